// The serving layer against the real engines: generated events with ground truth, a speed view that
// missed part of day 1 (as a speed layer started late would), the whole lake, and a backfill that
// moves the boundary. Merged answers must equal the truth with no minute counted twice or missed,
// and the SQL endpoint must refuse anything but reading the metric tables.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfill, batchViewsDir } from '../batch-layer/index.ts';
import { createClickHouse } from '../clickhouse/index.ts';
import { buildDimensions, CATALOG, getMetric, indexDimensions, toRawRows } from '../contracts/index.ts';
import { GroundTruth, generate } from '../generator/index.ts';
import { EVENTS_SCHEMA, lakeTableDir, openTable, stageAccepted } from '../lake/index.ts';
import { createGate } from '../quality/index.ts';
import { buildServer } from '../serving-layer/index.ts';
import { applySpeedLayerDdl, insertRaw, RAW_TABLE } from '../speed-layer/index.ts';
import { asMessages } from './support/messages.ts';
import { answerOrderCells, truthOrderCells } from './support/speed.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'tidewater-serving-'));
const DAY1 = '2025-06-01';
const DAY2 = '2025-06-02';
// 24k events at 40/s from 23:50: ten minutes across midnight, with late, duplicate and bad records.
const TRAFFIC = {
  seed: 23,
  count: 24_000,
  rate: 40,
  start: `${DAY1}T23:50:00Z`,
  lateFraction: 0.02,
  duplicateFraction: 0.01,
  badFraction: 0.01,
};
const FROM = `${DAY1}T23:00:00Z`;
const TO = `${DAY2}T01:00:00Z`;
const truth = new GroundTruth();
let client: ClickHouseClient;
let app: FastifyInstance;
let lakeVersion = -1;
const productViews = new Map<string, number>();

interface Answer {
  rows: Record<string, string | number>[];
  meta: {
    boundary: { watermark: string; since: string; lakeVersion: number | null } | null;
    served: { layer: string; from: string; to: string }[];
    lakeVersion: number | null;
    truncated: boolean;
    speed: { newestEventTime: string | null };
  };
}

async function get(url: string) {
  const response = await app.inject({ method: 'GET', url });
  return { status: response.statusCode, body: response.json() };
}

async function ordersByMinuteAndRegion(extra = ''): Promise<Answer> {
  const { status, body } = await get(`/v1/metrics/orders?from=${FROM}&to=${TO}&groupBy=region${extra}`);
  expect(status, JSON.stringify(body)).toBe(200);
  return body as Answer;
}

const cells = (rows: Answer['rows']) => answerOrderCells(rows);
const truthCells = (predicate: (minute: number) => boolean = () => true) =>
  truthOrderCells(truth.toJSON(), FROM, TO).filter((c) => predicate(c.minute));

beforeAll(async () => {
  const messages = asMessages(generate(TRAFFIC), truth);
  const accepted = createGate().run(messages).accepted;
  const dims = indexDimensions(buildDimensions());
  const table = await openTable(lakeTableDir(dataDir), EVENTS_SCHEMA);
  lakeVersion = (await table.appendBatch(stageAccepted(accepted, dims))).version;
  table.close();

  client = createClickHouse({ dataDir });
  await applySpeedLayerDdl(client, CATALOG, { rawTtlDays: 10 * 365, dedupWindow: 1000 });
  // The speed view missed every third event of day 1; it holds all of day 2.
  const speedRows = accepted
    .filter((r, i) => !r.event.eventTime.startsWith(DAY1) || i % 3 !== 0)
    .flatMap((r) => toRawRows(r.event, dims));
  for (let i = 0; i < speedRows.length; i += 5000)
    await insertRaw(client, speedRows.slice(i, i + 5000), `serving-test/${i}`);
  for (const { event } of accepted) {
    if (event.eventType === 'page.view' && event.payload.productId && event.eventTime < TO)
      productViews.set(event.payload.productId, (productViews.get(event.payload.productId) ?? 0) + 1);
  }
  app = await buildServer({ clickhouse: client, dataDir, logger: false });
});

afterAll(async () => {
  await app?.close();
  await client?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('merged metrics across the batch/speed boundary', () => {
  it('before any batch run, the speed view answers the whole range', async () => {
    const answer = await ordersByMinuteAndRegion();
    expect(answer.meta.boundary).toBeNull();
    // No batch run read the lake yet, but the lake has its versions: the answer names the newest.
    expect(answer.meta.lakeVersion).toBe(lakeVersion);
    expect(answer.meta.served).toEqual([
      { layer: 'speed', from: FROM.replace('Z', '.000Z'), to: TO.replace('Z', '.000Z') },
    ]);
    const day2 = (m: number) => m >= Date.parse(`${DAY2}T00:00:00Z`);
    expect(cells(answer.rows).filter((c) => day2(c.minute))).toEqual(truthCells(day2));
    // Day 1 is short of what the speed layer missed.
    const served = cells(answer.rows).filter((c) => !day2(c.minute));
    const sum = (list: { orders: number }[]) => list.reduce((n, c) => n + c.orders, 0);
    expect(sum(served)).toBeLessThan(sum(truthCells((m) => !day2(m))));
    expect(answer.meta.speed.newestEventTime).not.toBeNull();
  });

  it('after a backfill of day 1, batch below the boundary and speed above equal the truth minute by minute', async () => {
    const result = await backfill({
      client,
      lakeDir: lakeTableDir(dataDir),
      viewsDir: batchViewsDir(dataDir),
      from: DAY1,
      to: DAY2,
      allowedLatenessMs: 0,
    });
    expect(result.lakeVersion).toBe(lakeVersion);
    const answer = await ordersByMinuteAndRegion();
    expect(answer.meta.boundary?.watermark).toBe(`${DAY2}T00:00:00.000Z`);
    expect(answer.meta.served).toEqual([
      { layer: 'batch', from: `${FROM.replace('Z', '.000Z')}`, to: `${DAY2}T00:00:00.000Z` },
      { layer: 'speed', from: `${DAY2}T00:00:00.000Z`, to: TO.replace('Z', '.000Z') },
    ]);
    expect(answer.meta.lakeVersion).toBe(lakeVersion);
    expect(answer.meta.boundary?.lakeVersion).toBe(lakeVersion);
    // Exactly the truth's cells: none missing, none twice (a doubled minute would differ in value).
    expect(cells(answer.rows)).toEqual(truthCells());
  });

  it('hour and whole-range buckets merge the layers too, and sum to the minutes', async () => {
    const perMinute = await ordersByMinuteAndRegion();
    const total = perMinute.rows.reduce((n, r) => n + Number(r.revenue_minor), 0);
    const hourly = await ordersByMinuteAndRegion('&grain=hour');
    expect(hourly.rows.map((r) => r.time)).toContain(`${DAY1}T23:00:00Z`);
    expect(hourly.rows.reduce((n, r) => n + Number(r.revenue_minor), 0)).toBe(total);
    const all = (await get(`/v1/metrics/orders?from=${FROM}&to=${TO}&grain=all`)).body as Answer;
    expect(all.rows).toHaveLength(1);
    expect(Number(all.rows[0]?.revenue_minor)).toBe(total);
  });

  it('serves top-N: the most viewed products of the range, with filters and a limit', async () => {
    const { status, body } = await get(
      `/v1/metrics/product_engagement?from=${FROM}&to=${TO}&grain=all&groupBy=product_id&orderBy=-views,product_id&limit=3&measures=views`,
    );
    expect(status, JSON.stringify(body)).toBe(200);
    const expected = [...productViews]
      .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
      .slice(0, 3)
      .map(([product_id, views]) => ({ product_id, views }));
    expect((body as Answer).rows).toEqual(expected);
    expect((body as Answer).meta.truncated).toBe(true);

    const region = String((await ordersByMinuteAndRegion()).rows[0]?.region);
    const filtered = (await ordersByMinuteAndRegion(`&filter=region:${region}`)).rows;
    expect(new Set(filtered.map((r) => r.region))).toEqual(new Set([region]));
    const excluded = (await ordersByMinuteAndRegion(`&filter=region!:${region}`)).rows;
    expect(excluded.some((r) => r.region === region)).toBe(false);
  });

  it('asOf answers from the lake version itself (time travel)', async () => {
    const answer = await ordersByMinuteAndRegion(`&asOf=${lakeVersion}`);
    expect(answer.meta.served).toEqual([
      { layer: 'lake', from: FROM.replace('Z', '.000Z'), to: TO.replace('Z', '.000Z') },
    ]);
    expect(answer.meta.lakeVersion).toBe(lakeVersion);
    expect(cells(answer.rows)).toEqual(truthCells());
    const missing = await get(`/v1/metrics/orders?from=${FROM}&to=${TO}&asOf=999`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('lake_version_not_found');
  });
});

describe('SQL endpoint', () => {
  const sql = (body: unknown) => app.inject({ method: 'POST', url: '/v1/sql', payload: body as object });

  it('reads the merged metric tables as JSON, CSV and Arrow', async () => {
    const statement = `SELECT region, sum(orders) AS orders FROM orders
      WHERE minute >= '${DAY1} 23:00:00' AND minute < '${DAY2} 01:00:00' GROUP BY region ORDER BY region`;
    const json = await sql({ sql: statement });
    expect(json.statusCode, json.body).toBe(200);
    const byRegion = new Map<string, number>();
    for (const c of truthCells())
      byRegion.set(String(c.region), (byRegion.get(String(c.region)) ?? 0) + c.orders);
    const data = (json.json() as { data: { region: string; orders: string | number }[] }).data;
    expect(data.map((r) => [r.region, Number(r.orders)])).toEqual(
      [...byRegion].sort(([a], [b]) => a.localeCompare(b)),
    );
    expect(json.headers['x-tidewater-truncated']).toBe('false');

    const csv = await sql({ sql: statement, format: 'csv' });
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.body.split('\n')[0]).toBe('"region","orders"');
    const arrow = await sql({ sql: statement, format: 'arrow' });
    expect(arrow.statusCode).toBe(200);
    expect(arrow.rawPayload.subarray(0, 6).toString()).toBe('ARROW1');

    const limited = await sql({ sql: 'SELECT * FROM orders', maxRows: 5 });
    expect((limited.json() as { data: unknown[] }).data).toHaveLength(5);
    expect(limited.headers['x-tidewater-truncated']).toBe('true');
    const exact = await sql({
      sql: 'SELECT region FROM orders GROUP BY region ORDER BY region',
      maxRows: byRegion.size,
    });
    expect((exact.json() as { rows: number }).rows).toBe(byRegion.size);
    expect(exact.headers['x-tidewater-truncated']).toBe('false');

    // CSV is cut by records, not lines: a newline inside a quoted field is data.
    const multiline =
      "SELECT concat(region, char(10), 'line two') AS s FROM orders GROUP BY region ORDER BY region";
    const cut = await sql({ sql: multiline, format: 'csv', maxRows: 2 });
    expect(cut.headers['x-tidewater-truncated']).toBe('true');
    const regions = [...byRegion.keys()].sort();
    expect(cut.body).toBe(`"s"\n"${regions[0]}\nline two"\n"${regions[1]}\nline two"\n`);
    const arrowCut = await sql({ sql: 'SELECT * FROM orders', format: 'arrow', maxRows: 5 });
    expect(arrowCut.headers['x-tidewater-truncated']).toBe('true');
  });

  it.each([
    ['INSERT INTO orders_v1 SELECT * FROM orders_v1', 'sql_refused'],
    ['DROP TABLE orders_v1', 'sql_refused'],
    ['/* hello */ dRoP   TABLE `orders_v1`', 'sql_refused'],
    ['CREATE TABLE t (x Int8) ENGINE = Memory', 'sql_refused'],
    ['ALTER TABLE orders_v1 DELETE WHERE 1', 'sql_refused'],
    ['SET readonly = 0', 'sql_refused'],
    ['SELECT 1 SETTINGS readonly = 0', 'sql_refused'],
    ["SeLeCt * FROM FiLe('/etc/passwd', 'CSV')", 'sql_refused'],
    ["SELECT * FROM url('http://127.0.0.1:9/x', 'CSV')", 'sql_refused'],
    ["SELECT file('/etc/passwd')", 'sql_refused'],
    ["SELECT * FROM orders WHERE region IN (SELECT * FROM s3('http://x/y'))", 'sql_refused'],
    ['SELECT * FROM events_raw', 'sql_refused'],
    ['SELECT * FROM default.orders_v1', 'sql_refused'],
    ['SELECT * FROM system.tables', 'sql_refused'],
    ["SELECT 1 INTO OUTFILE '/tmp/tidewater-sql-test-outfile'", 'sql_refused'],
    ['SELECT 1 FORMAT CSV', 'sql_refused'],
    ['SELECT 1; DROP TABLE orders_v1', 'sql_syntax'],
    ['SELEC region FROM orders', 'sql_syntax'],
    ['SELECT no_such_column FROM orders', 'sql_invalid'],
  ])('refuses %s', async (statement, code) => {
    const response = await sql({ sql: statement });
    expect(response.statusCode, response.body).toBe(400);
    const body = response.json() as { error: { code: string; message: string } };
    expect(body.error.code).toBe(code);
    expect(body.error.message.length).toBeGreaterThan(5);
    expect(response.body).not.toMatch(/\n\s+at |Stack trace/);
  });

  it('left every table in place and wrote no file', async () => {
    expect(existsSync('/tmp/tidewater-sql-test-outfile')).toBe(false);
    const ok = await sql({ sql: 'SELECT count() AS n FROM orders' });
    expect(ok.statusCode).toBe(200);
    const tables = await get('/v1/sql/tables');
    expect(tables.body.tables.map((t: { name: string }) => t.name)).toEqual(CATALOG.map((m) => m.name));
  });

  it('WITH clauses name their own tables', async () => {
    const response = await sql({
      sql: 'WITH r AS (SELECT region, orders FROM orders) SELECT count() AS n FROM r',
    });
    expect(response.statusCode, response.body).toBe(200);
  });
});

describe('malformed requests', () => {
  it.each([
    [`/v1/metrics/orders?grain=week`, 400, 'invalid_request', /grain/],
    [`/v1/metrics/orders?from=yesterday`, 400, 'invalid_request', /from/],
    [`/v1/metrics/orders?from=${TO}&to=${FROM}`, 400, 'invalid_request', /before/],
    [`/v1/metrics/orders?groupBy=category`, 400, 'invalid_request', /no dimension category/],
    [`/v1/metrics/orders?filter=region`, 400, 'invalid_request', /dimension:value/],
    [`/v1/metrics/orders?orderBy=-nope`, 400, 'invalid_request', /cannot order by nope/],
    [`/v1/metrics/orders?limit=0`, 400, 'invalid_request', /limit/],
    [`/v1/metrics/no_such_metric`, 404, 'not_found', /unknown metric/],
    [`/v1/nowhere`, 404, 'not_found', /no route/],
  ])('GET %s -> %i %s', async (url, status, code, message) => {
    const response = await get(url);
    expect(response.status).toBe(status);
    expect(response.body.error.code).toBe(code);
    expect(response.body.error.message).toMatch(message);
  });

  it('a body that is not JSON, or lacks the statement, gets 400 with a useful message', async () => {
    const broken = await app.inject({
      method: 'POST',
      url: '/v1/sql',
      headers: { 'content-type': 'application/json' },
      payload: '{"sql": ',
    });
    expect(broken.statusCode).toBe(400);
    expect(broken.json().error.code).toBe('malformed_json');
    const missing = await app.inject({ method: 'POST', url: '/v1/sql', payload: { format: 'csv' } });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error.message).toMatch(/sql/);
  });

  it.each([['true; DROP TABLE orders_v1_batch'], [1], [{ $ne: false }]])(
    'a backfill whose full flag is not a boolean (%j) gets 400 before any job exists',
    async (full) => {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/backfills',
        payload: { from: '2025-06-01', to: '2025-06-02', full },
      });
      expect(response.statusCode, response.body).toBe(400);
      const { error } = response.json();
      expect(error.code).toBe('invalid_request');
      expect(error.message).toMatch(/full/);
      expect(response.body).not.toMatch(/\bat .*\.ts:\d+/);
    },
  );
});

describe('health and docs', () => {
  it('answers /healthz, /readyz, /metrics and serves the OpenAPI document at /docs', async () => {
    expect((await get('/healthz')).body.status).toBe('ok');
    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.checks.clickhouse.ok).toBe(true);
    const openapi = await get('/docs/json');
    expect(Object.keys(openapi.body.paths)).toEqual(
      expect.arrayContaining(['/v1/metrics', '/v1/metrics/{name}', '/v1/sql', '/v1/backfills']),
    );
    const page = await app.inject({ method: 'GET', url: '/docs' });
    expect([200, 302]).toContain(page.statusCode);
  });
});

describe('dimension tables', () => {
  it("answers the rows of the ids asked for, from the platform's dimension files", async () => {
    const { products, stores } = buildDimensions();
    const [first, last] = [products[0], products.at(-1)];
    const { status, body } = await get(
      `/v1/dimensions/products?id=${first?.productId},P999999,${last?.productId}`,
    );
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body).toEqual({ table: 'products', key: 'productId', rows: [first, last] });
    const all = await get('/v1/dimensions/stores');
    expect(all.body.rows).toEqual(stores);
    const unknown = await get('/v1/dimensions/customers');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('invalid_request');
  });
});

// Last in the file: it drops the orders metric's tables.
describe('tables of earlier metric versions', () => {
  it('lists them from the catalog, drops one on request, and nothing else whatever the name', async () => {
    const orders = getMetric('orders');
    const bumped = CATALOG.map((m) => (m === orders ? { ...m, version: m.version + 1 } : m));
    const old = `orders_v${orders.version}`;
    // The speed layer has not started with the new version yet: the old view still feeds the old table.
    const admin = await buildServer({ clickhouse: client, dataDir, catalog: bumped, logger: false });
    try {
      const call = async (method: 'GET' | 'DELETE', url: string) => {
        const response = await admin.inject({ method, url });
        return { status: response.statusCode, body: response.json() };
      };
      const listed = await call('GET', '/v1/retired-tables');
      expect(listed.status, JSON.stringify(listed.body)).toBe(200);
      const speedRows = Number(
        (
          await (
            await client.query({ query: `SELECT count() AS n FROM ${old}`, format: 'JSONEachRow' })
          ).json<{ n: string }>()
        )[0]?.n,
      );
      expect(speedRows).toBeGreaterThan(0);
      // The backfill above loaded the batch view of day 1: its table is the other retired one.
      expect(listed.body.tables).toEqual([
        {
          table: old,
          metric: 'orders',
          version: orders.version,
          layer: 'speed',
          rows: speedRows,
          bytes: expect.any(Number),
        },
        expect.objectContaining({ table: `${old}_batch`, layer: 'batch', rows: expect.any(Number) }),
      ]);
      expect(listed.body.tables[1].rows).toBeGreaterThan(0);

      // Current tables, other tables and names that are not tables at all are not dropped.
      for (const name of [
        `orders_v${orders.version}_mv`,
        'sessions_v1',
        RAW_TABLE,
        `${old}; DROP TABLE ${RAW_TABLE}`,
        '..',
      ]) {
        const refused = await call('DELETE', `/v1/retired-tables/${encodeURIComponent(name)}`);
        expect(refused.status, name).toBe(404);
        expect(refused.body.error.code).toBe('not_found');
      }
      const current = await buildServer({ clickhouse: client, dataDir, logger: false });
      try {
        expect((await current.inject({ method: 'GET', url: '/v1/retired-tables' })).json()).toEqual({
          tables: [],
        });
        const refused = await current.inject({ method: 'DELETE', url: `/v1/retired-tables/${old}` });
        expect(refused.statusCode).toBe(404);
      } finally {
        await current.close();
      }

      const dropped = await call('DELETE', `/v1/retired-tables/${old}`);
      expect(dropped.status, JSON.stringify(dropped.body)).toBe(200);
      expect(dropped.body.dropped).toEqual(listed.body.tables[0]);
      const left = await (
        await client.query({
          query: `SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE 'orders\\_v%' ORDER BY name`,
          format: 'JSONEachRow',
        })
      ).json<{ name: string }>();
      expect(left.map((t) => t.name)).toEqual([`${old}_batch`]);
      // Its view went with it: the raw table still takes inserts.
      const fresh = createGate().run(asMessages(generate({ ...TRAFFIC, count: 50 }), new GroundTruth()));
      const rows = fresh.accepted.flatMap((r) => toRawRows(r.event, indexDimensions(buildDimensions())));
      await insertRaw(client, rows, 'retired-after-drop');
      expect(
        (await call('GET', '/v1/retired-tables')).body.tables.map((t: { table: string }) => t.table),
      ).toEqual([`${old}_batch`]);
      expect((await call('DELETE', `/v1/retired-tables/${old}_batch`)).status).toBe(200);
      expect((await call('GET', '/v1/retired-tables')).body).toEqual({ tables: [] });
    } finally {
      await admin.close();
    }
  });
});
