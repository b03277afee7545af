// The ClickHouse HTTP interface with clients nobody here wrote: @clickhouse/client, the ClickHouse
// JDBC driver (the one DBeaver, Metabase and Tableau embed) and Grafana's ClickHouse plugin's own
// catalog queries. Answers must equal the REST API's, and every hostile statement of the SQL
// endpoint's corpus must be refused here too.
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.ts';
import { CATALOG } from '../contracts/index.ts';
import { openQuarantineTable, quarantineTableDir } from '../lake/index.ts';
import { type QuarantineRow, stageQuarantineRows } from '../lake/quarantine-table.ts';
import { buildClickHouseInterface } from '../serving-layer/clickhouse-http/app.ts';
import { buildServer, KeyStore } from '../serving-layer/index.ts';
import { GRAFANA_QUERIES } from './fixtures/grafana-clickhouse.ts';
import { ATTACKS, OUT } from './fixtures/sql-attacks.ts';
import { runJava } from './support/java.ts';
import { speedViewOf } from './support/speed.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'tidewater-ch-http-'));
const outDir = join(dataDir, 'out');
const FROM = '2025-06-01T10:00:00Z';
const TO = '2025-06-01T11:00:00Z';
let engine: ClickHouseClient;
let api: FastifyInstance;
let bi: FastifyInstance;
let redis: Redis;
let prefix: string;
let url: string;
let readerKey: string;
let ingestKey: string;
let engineerKey: string;

const client = (password = readerKey) =>
  createClient({
    url,
    username: 'grafana',
    password,
    database: 'tidewater',
    request_timeout: 60_000,
    // Refusals are what several tests expect; the client would log each as an error.
    log: { level: ClickHouseLogLevel.OFF },
  });

/** POST a statement as ClickHouse clients do, the format in the URL. */
async function post(statement: string, query = '', password = readerKey) {
  const response = await fetch(`${url}/?${query}`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`default:${password}`).toString('base64')}` },
    body: statement,
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** Orders per region over the test's hour, as GET /v1/metrics answers them. */
async function ordersByRegion(): Promise<Map<string, number>> {
  const response = await api.inject({
    method: 'GET',
    url: `/v1/metrics/orders?from=${FROM}&to=${TO}&grain=all&groupBy=region`,
    headers: { authorization: `Bearer ${readerKey}` },
  });
  expect(response.statusCode, response.body).toBe(200);
  const rows = (response.json() as { rows: { region: string; orders: number }[] }).rows;
  return new Map(rows.map((r) => [r.region, Number(r.orders)]));
}

const GROUP_BY = `SELECT region, sum(orders) AS orders FROM orders
  WHERE minute >= '2025-06-01 10:00:00' AND minute < '2025-06-01 11:00:00' GROUP BY region ORDER BY region`;

beforeAll(async () => {
  mkdirSync(outDir);
  const cfg = loadConfig();
  redis = new Redis(cfg.redisUrl);
  prefix = `ch-http-test-${randomUUID().slice(0, 8)}`;
  const keys = new KeyStore(redis, prefix);
  readerKey = (await keys.create('reader')).secret;
  ingestKey = (await keys.create('ingest')).secret;
  engineerKey = (await keys.create('engineer')).secret;
  engine = await speedViewOf(dataDir, { seed: 11, count: 3000, rate: 50, start: '2025-06-01T10:10:00Z' });
  api = await buildServer({
    clickhouse: engine,
    dataDir,
    logger: false,
    redis: { client: redis, prefix },
    auth: { keys },
    sql: { timeoutSeconds: 3, maxMemoryBytes: 256 << 20 },
  });
  bi = await buildClickHouseInterface({
    sql: api.sqlService,
    version: '26.7.2.1',
    auth: { keys, redis, prefix, rateLimitPerMinute: 0 },
    logger: false,
  });
  url = await bi.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await bi?.close();
  await api?.close();
  await engine?.close();
  const leftovers = await redis.keys(`${prefix}:*`);
  if (leftovers.length > 0) await redis.del(...leftovers);
  redis?.disconnect();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('@clickhouse/client', () => {
  it('pings, binds query parameters and reads JSONEachRow and JSONCompact equal to the REST API', async () => {
    const ch = client();
    expect((await ch.ping()).success).toBe(true);
    const truth = await ordersByRegion();
    const region = [...truth.keys()][0] as string;
    const bound = await ch.query({
      query: `SELECT region, sum(orders) AS orders FROM orders WHERE region = {region:String}
        AND minute >= {from:DateTime64(3, 'UTC')} AND minute < {to:DateTime64(3, 'UTC')} GROUP BY region`,
      query_params: { region, from: '2025-06-01 10:00:00', to: '2025-06-01 11:00:00' },
      format: 'JSONEachRow',
    });
    expect(await bound.json()).toEqual([{ region, orders: String(truth.get(region)) }]);
    const compact = await ch.query({ query: GROUP_BY, format: 'JSONCompact' });
    const { data } = await compact.json<unknown[]>();
    expect(new Map((data as [string, string][]).map(([r, n]) => [r, Number(n)]))).toEqual(truth);
    await ch.close();
  });

  it('refuses a wrong password and a key below the reader role with ClickHouse code 516', async () => {
    for (const password of ['not-a-key', ingestKey]) {
      const ch = client(password);
      await expect(ch.query({ query: 'SELECT 1', format: 'JSONEachRow' })).rejects.toMatchObject({
        code: '516',
      });
      await ch.close();
    }
    const response = await post('SELECT 1', '', 'nope');
    expect(response.status).toBe(401);
    expect(response.headers.get('x-clickhouse-exception-code')).toBe('516');
  });

  it('refuses DDL with ClickHouse code 164, as a read-only user', async () => {
    const ch = client();
    await expect(ch.command({ query: 'DROP TABLE orders' })).rejects.toMatchObject({ code: '164' });
    await expect(ch.command({ query: 'CREATE TABLE t (x UInt8) ENGINE = Memory' })).rejects.toMatchObject({
      code: '164',
    });
    await ch.close();
  });
});

describe('the HTTP interface itself', () => {
  it('answers /ping and GET /, the query in the URL, the body or both, with ClickHouse headers', async () => {
    expect(await (await fetch(`${url}/ping`)).text()).toBe('Ok.\n');
    expect(await (await fetch(`${url}/`)).text()).toBe('Ok.\n');
    const auth = `user=default&password=${encodeURIComponent(readerKey)}`;
    const get = await fetch(
      `${url}/?${auth}&query=${encodeURIComponent('SELECT 1 AS x FORMAT JSONEachRow')}`,
    );
    expect(await get.text()).toBe('{"x":1}\n');
    expect(get.headers.get('x-clickhouse-format')).toBe('JSONEachRow');
    expect(get.headers.get('x-clickhouse-timezone')).toBe('UTC');
    expect(JSON.parse(get.headers.get('x-clickhouse-summary') ?? '{}').result_rows).toBe('1');
    const both = await post('FROM orders', `query=${encodeURIComponent('SELECT count() > 0 AS any')}`);
    expect(both.text).toBe('1\n');
    const queryId = randomUUID();
    const withId = await post('SELECT 2', `query_id=${queryId}&default_format=CSV`);
    expect(withId.text).toBe('2\n');
    expect(withId.headers.get('x-clickhouse-query-id')).toBe(queryId);
  });

  it('caps allowed settings, refuses others, and compresses with gzip when asked', async () => {
    const capped = await post(
      'SELECT region FROM orders',
      'max_result_rows=2&result_overflow_mode=break&max_execution_time=100&readonly=1',
    );
    expect(capped.status, capped.text).toBe(200);
    expect(capped.text.trim().split('\n')).toHaveLength(2);
    const thrown = await post(
      "SELECT region FROM orders SETTINGS max_result_rows = 2, result_overflow_mode = 'throw'",
    );
    expect(thrown.headers.get('x-clickhouse-exception-code')).toBe('396');
    const refused = await post('SELECT 1', 'allow_ddl=1');
    expect(refused.status).toBe(403);
    expect(refused.text).toMatch(/^Code: 164\. DB::Exception: Cannot modify 'allow_ddl' setting/);
    const gzip = await fetch(`${url}/?enable_http_compression=1`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`default:${readerKey}`).toString('base64')}`,
        'accept-encoding': 'gzip',
      },
      body: 'SELECT region FROM orders FORMAT JSONEachRow',
    });
    expect(gzip.headers.get('content-encoding')).toBe('gzip');
    expect((await gzip.text()).split('\n').length).toBeGreaterThan(1);
    const unknownDb = await post('SELECT 1', 'database=default');
    expect(unknownDb.headers.get('x-clickhouse-exception-code')).toBe('81');
    const compressed = await post('SELECT 1', 'compress=1');
    expect(compressed.text).toMatch(/compress=0/);
  });

  it('shows only the platform database in SHOW, DESCRIBE, EXISTS and system tables', async () => {
    expect((await post('SHOW DATABASES')).text).toBe('tidewater\ntidewater_quality\n');
    expect((await post('SELECT name FROM system.databases ORDER BY name')).text).toBe(
      'tidewater\ntidewater_quality\n',
    );
    const tables = (await post('SHOW TABLES')).text.trim().split('\n');
    expect(tables).toEqual(CATALOG.map((m) => m.name).sort());
    expect((await post('SHOW TABLES FROM default')).text).toBe('');
    for (const table of ['tables', 'columns'])
      expect((await post(`SELECT DISTINCT database FROM system.${table} ORDER BY database`)).text).toBe(
        'tidewater\ntidewater_quality\n',
      );
    const describe = (await post('DESCRIBE TABLE tidewater.orders')).text.trim().split('\n');
    expect(describe.map((line) => line.split('\t')[0])).toContain('region');
    expect((await post('DESCRIBE TABLE default.events_raw')).text).toBe('');
    expect((await post('DESCRIBE (SELECT region, 1 AS one FROM orders)')).text).toMatch(
      /^region\t\S+.*\none\tUInt8/s,
    );
    expect((await post('EXISTS TABLE orders')).text).toBe('1\n');
    expect((await post('EXISTS TABLE default.events_raw')).text).toBe('0\n');
    const functions = (
      await post("SELECT count() FROM system.functions WHERE name IN ('file', 'sleep', 'sum')")
    ).text;
    expect(functions).toBe('1\n');
    expect((await post('SHOW COLUMNS FROM orders')).text).toMatch(/^minute\t/);
  });
});

describe('the quarantine table', () => {
  it('is read by engineers and refused to readers', async () => {
    const engineer = await post('SELECT count() FROM tidewater_quality.quarantine', '', engineerKey);
    expect(engineer.status, engineer.text).toBe(200);
    expect(engineer.text).toBe('0\n');
    expect((await post('DESCRIBE TABLE tidewater_quality.quarantine', '', engineerKey)).text).toMatch(
      /^rejected_at\t/,
    );
    const reader = await post('SELECT count() FROM tidewater_quality.quarantine');
    expect(reader.headers.get('x-clickhouse-exception-code')).toBe('497');
  });

  it("reads the Delta table's newest version: files a compaction replaced are not read again", async () => {
    const row = (offset: number): QuarantineRow => ({
      rejected_at: Date.UTC(2025, 5, 1, 10, offset),
      source_topic: 'events',
      source_partition: 0,
      source_offset: String(offset),
      source_key: null,
      source_timestamp: Date.UTC(2025, 5, 1, 10, offset),
      event_id: `e-${offset}`,
      event_type: 'order',
      event_time: null,
      rule_ids: ['contract', 'range.total'],
      failures: [
        { rule_id: 'contract', severity: 'quarantine', message: 'bad' },
        { rule_id: 'range.total', severity: 'quarantine', message: 'negative' },
      ],
      original: Buffer.from(`{"offset":${offset}}`).toString('base64'),
      quarantine_partition: 0,
      quarantine_offset: offset,
    });
    const table = await openQuarantineTable(quarantineTableDir(dataDir));
    try {
      for (const offsets of [
        [0, 1, 2],
        [3, 4],
      ]) {
        await table.appendBatch(stageQuarantineRows(offsets.map(row)), {
          txn: [{ appId: 'quarantine:0', version: (offsets.at(-1) as number) + 1 }],
        });
      }
      // The two files stay on disk, removed from the table, until a vacuum.
      expect((await table.optimize()).filesRemoved).toBe(2);
    } finally {
      table.close();
    }
    const answer = await post(
      'SELECT count(), sum(length(rule_ids)), sum(length(original)) FROM tidewater_quality.quarantine',
      '',
      engineerKey,
    );
    expect(answer.status, answer.text).toBe(200);
    expect(answer.text).toBe(`5\t10\t${[0, 1, 2, 3, 4].reduce((n, o) => n + `{"offset":${o}}`.length, 0)}\n`);
  });
});

describe('Grafana and JDBC', () => {
  it("answers every catalog query of Grafana's ClickHouse plugin", async () => {
    for (const statement of GRAFANA_QUERIES('tidewater', 'orders', 'region')) {
      const response = await post(statement, 'default_format=JSONCompact');
      expect(response.status, `${statement}\n${response.text}`).toBe(200);
      expect(JSON.parse(response.text).rows, statement).toBeGreaterThan(0);
    }
  });

  it('serves the ClickHouse JDBC driver: catalog through DatabaseMetaData, and a GROUP BY equal to the REST API', async () => {
    const answer = await runJava<{ tables: string[]; columns: string[]; rows: [string, string][] }>(
      { project: 'clickhouse-jdbc', main: 'JdbcCheck', what: 'ClickHouse JDBC 0.10.0' },
      [`jdbc:clickhouse:${url}/tidewater`, 'metabase', readerKey, 'orders', GROUP_BY],
    );
    expect(answer.tables).toEqual(expect.arrayContaining(CATALOG.map((m) => `tidewater.${m.name}`)));
    expect(answer.tables.every((t) => /^tidewater(_quality)?\./.test(t))).toBe(true);
    expect(answer.columns).toEqual(expect.arrayContaining([expect.stringMatching(/^region /)]));
    expect(new Map(answer.rows.map(([r, n]) => [r, Number(n)]))).toEqual(await ordersByRegion());
  }, 240_000);
});

/**
 * Statements of the corpus this interface answers by design, as a read-only ClickHouse user would
 * be answered: its own FORMAT, a limit it may lower (0 asks for ours), and catalog reads, which show
 * the platform's database alone (the hidden ones answer as if empty).
 */
const ANSWERED = new Set([
  'DESCRIBE TABLE default.events_raw',
  'DESC default.events_raw',
  'SHOW TABLES FROM default',
  'SHOW DATABASES',
  'EXISTS TABLE default.events_raw',
  'SELECT 1 FORMAT CSV',
  'SELECT 1 FORMAT Null',
  'SELECT region FROM orders FORMAT JSONEachRow',
  'SELECT 1 SETTINGS max_execution_time = 0',
  'SELECT * FROM system.tables',
  'SELECT * FROM `system`.`tables`',
  'SELECT * FROM system.settings',
  'SELECT * FROM system.columns',
  'SELECT region FROM orders UNION DISTINCT SELECT name FROM system.tables',
  'SELECT * FROM tidewater.orders, system.tables',
]);

describe('hostile statements', () => {
  it('refuses every other statement of the SQL endpoint corpus with a ClickHouse error, writing nothing', async () => {
    const passed: string[] = [];
    const leaked: string[] = [];
    for (const attack of ATTACKS) {
      const statement = attack.replaceAll(OUT, outDir);
      const response = await post(statement);
      const code = response.headers.get('x-clickhouse-exception-code');
      if (ANSWERED.has(statement)) {
        if (response.status !== 200 || /events_raw|_v\d+\b|store\//.test(response.text))
          leaked.push(`${response.status} ${statement} -> ${response.text.slice(0, 300)}`);
      } else if (
        response.status === 200 ||
        code === null ||
        !/^Code: \d+\. DB::Exception: /.test(response.text)
      )
        passed.push(`${response.status} ${statement.slice(0, 100)} -> ${response.text.slice(0, 160)}`);
    }
    expect(passed).toEqual([]);
    expect(leaked).toEqual([]);
    expect(readdirSync(outDir)).toEqual([]);
  });
});
