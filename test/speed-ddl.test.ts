// The speed layer's generated DDL, inserts and queries against embedded ClickHouse (chDB).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clickhouseDialect, createClickHouse, queryMetric, type TimeRange } from '../clickhouse/index.ts';
import {
  aggregateCall,
  CATALOG,
  type Catalog,
  getMetric,
  indexDimensions,
  type Metric,
  type QueryShape,
  type RawRow,
  toRawRows,
} from '../contracts/catalog.ts';
import { buildDimensions, TidewaterEvent } from '../contracts/index.ts';
import { GroundTruth, generate } from '../generator/index.ts';
import {
  applySpeedLayerDdl,
  insertRaw,
  RAW_TABLE,
  retiredViewsNotice,
  type SpeedDdlOptions,
} from '../speed-layer/index.ts';
import { FIXTURE_DIMENSIONS, fixtureEvents } from './support/metric-fixture.ts';

// One chDB data directory per test file: libchdb binds one per process.
const dataDir = mkdtempSync(join(tmpdir(), 'tidewater-speed-ddl-'));
let client: ClickHouseClient;
// The fixtures are dated in 2025: keep raw rows long enough for the raw-table assertions.
const ddlOptions: SpeedDdlOptions = { rawTtlDays: 10 * 365, dedupWindow: 1000 };

beforeAll(async () => {
  client = createClickHouse({ dataDir });
  await applySpeedLayerDdl(client, CATALOG, ddlOptions);
});
afterAll(async () => {
  await client?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const fixtureIndex = indexDimensions(FIXTURE_DIMENSIONS);
const rowsOf = (events: readonly TidewaterEvent[]): RawRow[] =>
  events.flatMap((event) => toRawRows(event, fixtureIndex));
const dayRange = (day: string): TimeRange => ({ from: `${day}T00:00:00Z`, to: `${day}T23:59:59Z` });

/** Query rows with every 64-bit measure as a bigint, so comparisons are exact. */
async function read(metric: Metric, range: TimeRange, options: QueryShape = {}) {
  const wide = metric.measures.filter((m) =>
    ['int64', 'uint64'].includes(aggregateCall(m, clickhouseDialect).resultType),
  );
  const rows = await queryMetric(client, metric, range, options);
  return rows.map((row) => ({
    ...row,
    ...Object.fromEntries(wide.map((m) => [m.name, BigInt(row[m.name] as string)])),
  }));
}

async function count(sql: string): Promise<bigint> {
  const result = await client.query({
    query: `${sql} SETTINGS output_format_json_quote_64bit_integers = 1`,
    format: 'JSONEachRow',
  });
  const [row] = await result.json<{ n: string }>();
  return BigInt(row?.n ?? '0');
}

describe('createClickHouse', () => {
  it('shares the one embedded client per data directory and refuses a second directory', () => {
    expect(createClickHouse({ dataDir })).toBe(client);
    expect(() => createClickHouse({ dataDir: join(dataDir, 'other') })).toThrow(/already open at/);
  });
});

describe('speed layer DDL', () => {
  it('applies again without error and creates the raw table, a target and a view per metric', async () => {
    await applySpeedLayerDdl(client, CATALOG, ddlOptions);
    const tables = await client.query({
      query: 'SELECT name, engine FROM system.tables WHERE database = currentDatabase()',
      format: 'JSONEachRow',
    });
    const engines = Object.fromEntries(
      (await tables.json<{ name: string; engine: string }>()).map((t) => [t.name, t.engine]),
    );
    expect(engines[RAW_TABLE]).toBe('MergeTree');
    for (const metric of CATALOG) {
      expect(engines[`${metric.name}_v${metric.version}`]).toBe('AggregatingMergeTree');
      expect(engines[`${metric.name}_v${metric.version}_mv`]).toBe('MaterializedView');
    }
  });

  it('gives a bumped metric version new tables, stops feeding the old one and keeps its rows', async () => {
    const orders = getMetric('orders');
    const [v1, v2] = [orders.version, orders.version + 1];
    const bumped: Catalog = [{ ...orders, version: v2, dimensions: orders.dimensions.slice(0, 1) }];
    const day = '2025-02-01';
    const ordersIn = async (metric: Metric) =>
      (await read(metric, dayRange(day))).reduce((sum, row) => sum + (row.orders as bigint), 0n);
    try {
      await insertRaw(client, rowsOf(fixtureEvents(day)), `bump-before-${day}`);
      const fed = await ordersIn(orders);
      expect(fed).toBe(3n);
      const dropped = await applySpeedLayerDdl(client, bumped, ddlOptions);
      expect(dropped).toEqual([`orders_v${v1}_mv`]);
      expect(retiredViewsNotice(dropped)).toMatch(
        new RegExp(`no longer fed.*DELETE /v1/retired-tables/orders_v${v1}$`),
      );
      const names = await client.query({
        query: `SELECT name FROM system.tables WHERE name LIKE 'orders\\_v%' ORDER BY name`,
        format: 'JSONEachRow',
      });
      expect((await names.json<{ name: string }>()).map((t) => t.name)).toEqual([
        `orders_v${v1}`,
        `orders_v${v2}`,
        `orders_v${v2}_mv`,
      ]);
      await insertRaw(client, rowsOf(fixtureEvents(day)), `bump-after-${day}`);
      expect(await ordersIn(orders)).toBe(fed);
      expect(await ordersIn(bumped[0] as Metric)).toBe(fed);
      // Nothing left to retire: applying again drops nothing.
      expect(await applySpeedLayerDdl(client, bumped, ddlOptions)).toEqual([]);
    } finally {
      await client.command({ query: `DROP VIEW IF EXISTS orders_v${v2}_mv` });
      await client.command({ query: `DROP TABLE IF EXISTS orders_v${v2}` });
      // The catalog's own version again, for the tests below (they read other days).
      await applySpeedLayerDdl(client, CATALOG, ddlOptions);
    }
  });
});

describe('rollups of hand-made events', () => {
  const day = '2025-03-01';
  const range = dayRange(day);
  const m0 = `${day} 10:00:00`;
  const m1 = `${day} 10:01:00`;

  beforeAll(async () => {
    await insertRaw(client, rowsOf(fixtureEvents(day)), `fixture-${day}`);
  });

  it('writes one raw row per event and per order line', async () => {
    // 21 events, of which 4 orders with 2 + 1 + 1 + 2 lines.
    expect(await count(`SELECT count() AS n FROM ${RAW_TABLE} WHERE toDate(event_time) = '${day}'`)).toBe(
      23n,
    );
  });

  it('orders: count, revenue and units per region and channel, and rolled up to region', async () => {
    const orders = getMetric('orders');
    expect(await read(orders, range)).toEqual([
      { minute: m0, region: 'texas', channel: 'app', orders: 1n, revenue_minor: 1000n, units: 1n },
      { minute: m0, region: 'texas', channel: 'web', orders: 1n, revenue_minor: 2550n, units: 3n },
      { minute: m1, region: 'california', channel: 'web', orders: 1n, revenue_minor: 999n, units: 3n },
    ]);
    expect(await read(orders, range, { dimensions: ['region'] })).toEqual([
      { minute: m0, region: 'texas', orders: 2n, revenue_minor: 3550n, units: 4n },
      { minute: m1, region: 'california', orders: 1n, revenue_minor: 999n, units: 3n },
    ]);
  });

  it('sales_by_category: line-level units and revenue; distinct orders per category', async () => {
    const sales = getMetric('sales_by_category');
    expect(await read(sales, range)).toEqual([
      {
        minute: m0,
        region: 'texas',
        category: 'electronics',
        channel: 'app',
        units: 1n,
        revenue_minor: 1000n,
        order_lines: 1n,
        orders: 1n,
      },
      {
        minute: m0,
        region: 'texas',
        category: 'electronics',
        channel: 'web',
        units: 2n,
        revenue_minor: 2000n,
        order_lines: 1n,
        orders: 1n,
      },
      {
        minute: m0,
        region: 'texas',
        category: 'toys',
        channel: 'web',
        units: 1n,
        revenue_minor: 550n,
        order_lines: 1n,
        orders: 1n,
      },
      {
        minute: m1,
        region: 'california',
        category: 'toys',
        channel: 'web',
        units: 3n,
        revenue_minor: 999n,
        order_lines: 1n,
        orders: 1n,
      },
    ]);
    // o1 spans both categories: merged over categories it still counts once.
    expect(await read(sales, range, { dimensions: [] })).toEqual([
      { minute: m0, units: 4n, revenue_minor: 3550n, order_lines: 3n, orders: 2n },
      { minute: m1, units: 3n, revenue_minor: 999n, order_lines: 1n, orders: 1n },
    ]);
  });

  it('active_users: distinct shoppers per region, exact and approximate, merged across regions', async () => {
    const users = getMetric('active_users');
    expect(await read(users, range)).toEqual([
      { minute: m0, region: '', users: 3n, users_exact: 3n },
      { minute: m0, region: 'texas', users: 2n, users_exact: 2n },
      { minute: m1, region: '', users: 2n, users_exact: 2n },
      { minute: m1, region: 'california', users: 1n, users_exact: 1n },
      { minute: m1, region: 'texas', users: 1n, users_exact: 1n },
    ]);
    expect(await read(users, range, { dimensions: [] })).toEqual([
      { minute: m0, users: 5n, users_exact: 5n },
      { minute: m1, users: 2n, users_exact: 2n },
    ]);
  });

  it('cart_activity: adds and removes per category', async () => {
    expect(await read(getMetric('cart_activity'), range)).toEqual([
      { minute: m0, category: 'electronics', adds: 1n, removes: 1n, units_added: 2n, units_removed: 1n },
      { minute: m0, category: 'toys', adds: 1n, removes: 0n, units_added: 1n, units_removed: 0n },
    ]);
  });

  it('product_engagement: product page views and clicks, other pages excluded', async () => {
    expect(await read(getMetric('product_engagement'), range)).toEqual([
      { minute: m0, product_id: 'P000001', views: 1n, clicks: 1n },
      { minute: m0, product_id: 'P000002', views: 0n, clicks: 1n },
      { minute: m1, product_id: 'P000002', views: 1n, clicks: 0n },
    ]);
  });

  it('inventory: latest on-hand by event time (not arrival order) and the stock-out flag', async () => {
    expect(await read(getMetric('inventory'), range)).toEqual([
      {
        minute: m0,
        location_id: 'FC01',
        product_id: 'P000002',
        latest_on_hand: 7n,
        is_stock_out: false,
        updates: 1n,
        last_update: `${day} 10:00:45.000`,
      },
      {
        minute: m0,
        location_id: 'S0001',
        product_id: 'P000001',
        latest_on_hand: 0n,
        is_stock_out: true,
        updates: 2n,
        last_update: `${day} 10:00:30.000`,
      },
      {
        minute: m1,
        location_id: 'S0001',
        product_id: 'P000001',
        latest_on_hand: 12n,
        is_stock_out: false,
        updates: 1n,
        last_update: `${day} 10:01:05.000`,
      },
    ]);
  });

  it('failed_payments: declines per card with amount and distinct IPs; successes excluded', async () => {
    expect(await read(getMetric('failed_payments'), range)).toEqual([
      { minute: m0, card_fingerprint: 'card-1', failures: 2n, failed_amount_minor: 300n, ips: 2n },
      { minute: m1, card_fingerprint: 'card-2', failures: 1n, failed_amount_minor: 50n, ips: 1n },
    ]);
  });
});

describe('insertRaw encoding', () => {
  it('round-trips every column exactly: non-ASCII and long strings, extreme integers, booleans', async () => {
    const day = '2025-03-05';
    const rows = rowsOf(fixtureEvents(day)).slice(0, 3);
    const [a, b, c] = rows as [RawRow, RawRow, RawRow];
    a.user_id = 'Zoë · 東京 · 🙂';
    a.store_id = 's'.repeat(200); // two-byte length
    a.product_id = 'é'.repeat(9_000); // 18,000 bytes: three-byte length
    a.total_minor = Number.MAX_SAFE_INTEGER;
    b.total_minor = -Number.MAX_SAFE_INTEGER;
    b.delta = -1;
    b.stock_out = true;
    c.success = true;
    c.amount_minor = 2 ** 32 + 5;
    c.decline_code = '';
    await insertRaw(client, rows, 'encoding-test');
    const result = await client.query({
      query: `SELECT * FROM ${RAW_TABLE} WHERE toDate(event_time) = '${day}' SETTINGS output_format_json_quote_64bit_integers = 1`,
      format: 'JSONEachRow',
    });
    const key = (row: Record<string, unknown>) => JSON.stringify(row);
    const expected = rows.map((row) =>
      Object.fromEntries(
        Object.entries(row).map(([name, value]) => [name, typeof value === 'number' ? String(value) : value]),
      ),
    );
    const read = (await result.json<Record<string, unknown>>()).sort((x, y) => (key(x) < key(y) ? -1 : 1));
    expect(read).toEqual(expected.sort((x, y) => (key(x) < key(y) ? -1 : 1)));
  });
});

describe('insertRaw deduplication', () => {
  const day = '2025-03-02';
  const range = dayRange(day);
  const rawCount = () => count(`SELECT count() AS n FROM ${RAW_TABLE} WHERE toDate(event_time) = '${day}'`);
  const readAll = () => Promise.all(CATALOG.map((metric) => read(metric, range)));
  const counts = (snapshot: Awaited<ReturnType<typeof readAll>>) =>
    snapshot.map((rows, i) => {
      const names = (CATALOG[i] as Metric).measures.filter((m) => m.kind === 'count').map((m) => m.name);
      return rows.map((row) => names.map((name) => row[name]));
    });

  it('drops a retry with the same token in the raw table and every view; a new token counts twice', async () => {
    const rows = rowsOf(fixtureEvents(day));
    await insertRaw(client, rows, 'events/0/100-122');
    const once = await readAll();
    expect(await rawCount()).toBe(23n);
    for (const rowsOfMetric of once) expect(rowsOfMetric.length).toBeGreaterThan(0);

    await insertRaw(client, rows, 'events/0/100-122');
    expect(await rawCount()).toBe(23n);
    expect(await readAll()).toEqual(once);

    await insertRaw(client, rows, 'events/0/123-145');
    expect(await rawCount()).toBe(46n);
    const doubled = counts(once).map((metric) => metric.map((row) => row.map((n) => (n as bigint) * 2n)));
    expect(counts(await readAll())).toEqual(doubled);
  });

  it('does not leak the token into a later insert (settings are per statement)', async () => {
    await client.insert({
      table: RAW_TABLE,
      values: rowsOf(fixtureEvents(day)).slice(0, 1),
      format: 'JSONEachRow',
    });
    expect(await rawCount()).toBe(47n);
  });
});

describe('generated traffic', () => {
  const start = '2025-04-01T00:00:00Z';
  const range: TimeRange = { from: start, to: '2025-04-02T00:00:00Z' };
  const truth = new GroundTruth();
  const events: TidewaterEvent[] = [];

  beforeAll(async () => {
    for (const record of generate({ seed: 7, count: 30_000, rate: 100, start, duplicateFraction: 0.01 })) {
      truth.add(record);
      if (record.kind === 'good' && record.event) events.push(TidewaterEvent.parse(record.event));
    }
    const index = indexDimensions(buildDimensions());
    const batch = 5000;
    for (let i = 0; i < events.length; i += batch) {
      const rows = events.slice(i, i + batch).flatMap((event) => toRawRows(event, index));
      await insertRaw(client, rows, `generated/${i}`);
    }
  });

  it('orders per minute and region equal the ground truth exactly', async () => {
    const expected = truth.toJSON().orders.map((cell) => ({
      minute: cell.minute.replace('T', ' ').replace('Z', ''),
      region: cell.region,
      orders: BigInt(cell.orders),
      revenue_minor: BigInt(cell.revenueMinor),
      units: BigInt(cell.units),
    }));
    expect(expected.length).toBeGreaterThan(20);
    const actual = await read(getMetric('orders'), range, { dimensions: ['region'] });
    expect(actual).toEqual(expected);
    // Line-level sales add up to the same revenue and units per minute and region.
    const byCategory = await read(getMetric('sales_by_category'), range, { dimensions: ['region'] });
    expect(
      byCategory.map(({ minute, region, units, revenue_minor }) => ({
        minute,
        region,
        units,
        revenue_minor,
      })),
    ).toEqual(
      expected.map(({ minute, region, units, revenue_minor }) => ({ minute, region, units, revenue_minor })),
    );
  });

  it('approximate active users stay within the declared relative error of the exact count', async () => {
    const metric = getMetric('active_users');
    const measure = metric.measures.find((m) => m.kind === 'distinct_approx');
    if (measure?.kind !== 'distinct_approx') throw new Error('active_users has no approximate measure');
    const rows = await read(metric, range, { dimensions: [] });
    expect(rows.length).toBeGreaterThan(3);
    for (const row of rows) {
      const exact = Number(row.users_exact);
      expect(Math.abs(Number(row.users) - exact) / exact).toBeLessThanOrEqual(measure.relativeError);
    }
  });
});
