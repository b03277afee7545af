// The SQL endpoint against the real engine: a corpus of hostile statements (test/fixtures) must each
// be refused with a 4xx JSON error and leave every table, row count and file as it was; what BI
// tools send must keep working; and one user's heavy statement must not hold other requests.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../serving-layer/index.ts';
import { ALLOWED_FUNCTIONS } from '../serving-layer/sql/functions.ts';
import { ATTACKS, HEAVY, OUT } from './fixtures/sql-attacks.ts';
import { speedViewOf } from './support/speed.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'tidewater-sql-'));
const outDir = join(dataDir, 'out');
const TIMEOUT_SECONDS = 2;
const MAX_BYTES = 1 << 20;
let client: ClickHouseClient;
let app: FastifyInstance;

const sql = (body: Record<string, unknown>) => app.inject({ method: 'POST', url: '/v1/sql', payload: body });

/** Every table outside the engine's own databases, with its engine and row count. */
async function tablesAndCounts(): Promise<string[]> {
  const tables = await (
    await client.query({
      query: `SELECT database, name, engine FROM system.tables
        WHERE database NOT IN ('system', 'INFORMATION_SCHEMA', 'information_schema') ORDER BY database, name`,
      format: 'JSONEachRow',
    })
  ).json<{ database: string; name: string; engine: string }>();
  const out: string[] = [];
  for (const t of tables) {
    const counted = await client.query({
      query: `SELECT count() AS n FROM \`${t.database}\`.\`${t.name}\``,
      format: 'JSONEachRow',
    });
    const [{ n } = { n: -1 }] = await counted.json<{ n: string | number }>();
    out.push(`${t.database}.${t.name} ${t.engine} ${n}`);
  }
  return out;
}

beforeAll(async () => {
  mkdirSync(outDir);
  client = await speedViewOf(dataDir, { seed: 7, count: 3000, rate: 50, start: '2025-06-01T10:00:00Z' });
  app = await buildServer({
    clickhouse: client,
    dataDir,
    logger: false,
    sql: { timeoutSeconds: TIMEOUT_SECONDS, maxBytes: MAX_BYTES, maxMemoryBytes: 256 << 20, lanes: 2 },
  });
});

afterAll(async () => {
  await app?.close();
  await client?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('hostile statements', () => {
  it(`refuses all ${ATTACKS.length} of the corpus with a 4xx JSON error, and changes nothing`, async () => {
    expect(ATTACKS.length).toBeGreaterThanOrEqual(150);
    const before = await tablesAndCounts();
    const passed: string[] = [];
    for (const attack of ATTACKS) {
      const statement = attack.replaceAll(OUT, outDir);
      const response = await sql({ sql: statement });
      const body = response.json() as { error?: { code?: string; message?: string } };
      if (
        response.statusCode < 400 ||
        response.statusCode >= 500 ||
        !body.error?.code ||
        !body.error.message ||
        /Stack trace|\n\s+at |formatQuerySingleLine|EXPLAIN AST|JSONCompactEachRowWithNamesAndTypes/.test(
          response.body,
        )
      )
        passed.push(`${response.statusCode} ${statement.slice(0, 120)} -> ${response.body.slice(0, 200)}`);
    }
    expect(passed).toEqual([]);
    expect(readdirSync(outDir)).toEqual([]);
    expect(await tablesAndCounts()).toEqual(before);
  });

  it('refuses by kind: writes and settings as refused, syntax with the position in the text sent', async () => {
    const cases: [string, string, RegExp][] = [
      ['DROP TABLE orders', 'sql_refused', /only SELECT/],
      ['SELECT 1 SETTINGS max_threads = 8', 'sql_refused', /SETTINGS/],
      ["SELECT 1 INTO OUTFILE '/tmp/x'", 'sql_refused', /OUTFILE/],
      ['SELECT * FROM default.events_raw', 'sql_refused', /default\.events_raw/],
      ["SELECT * FROM file('/etc/passwd')", 'sql_refused', /table function file/],
      ['SELECT sleep(1)', 'sql_refused', /function sleep\(\)/],
      ['SELECT 1; DROP TABLE orders', 'sql_syntax', /Multi-statements/],
      ['SELECT region FROM orders WHERE (', 'sql_syntax', /position 33/],
      ['SELECT no_such_column FROM orders', 'sql_invalid', /no_such_column/],
    ];
    for (const [statement, code, message] of cases) {
      const response = await sql({ sql: statement });
      expect(response.statusCode, statement).toBe(400);
      expect(response.json().error.code, statement).toBe(code);
      expect(response.json().error.message, statement).toMatch(message);
    }
  });
});

describe('what BI tools send', () => {
  it.each([
    ['GROUP BY', 'SELECT region, sum(orders) AS n FROM orders GROUP BY region ORDER BY region'],
    [
      'window functions',
      'SELECT minute, region, sum(orders) OVER (PARTITION BY region ORDER BY minute) AS running FROM orders ORDER BY region, minute LIMIT 20',
    ],
    [
      'a JOIN of two metric views',
      `SELECT o.region, sum(o.orders) AS orders, any(u.users) AS users FROM orders AS o
       JOIN active_users AS u ON o.region = u.region AND o.minute = u.minute GROUP BY o.region`,
    ],
    [
      'chained CTEs',
      `WITH per_region AS (SELECT region, sum(revenue_minor) AS revenue FROM orders GROUP BY region),
            top AS (SELECT region FROM per_region ORDER BY revenue DESC LIMIT 3)
       SELECT * FROM per_region WHERE region IN (SELECT region FROM top)`,
    ],
    [
      'an IN subquery',
      "SELECT count() FROM orders WHERE region IN (SELECT region FROM orders WHERE channel = 'web')",
    ],
    ['UNION ALL', 'SELECT region FROM orders UNION ALL SELECT region FROM active_users'],
    ['LIMIT 0', 'SELECT * FROM orders LIMIT 0'],
    [
      'qualified names and functions',
      'SELECT toStartOfHour(minute) AS h, countIf(orders > 0), quantile(0.9)(revenue_minor) FROM tidewater.orders GROUP BY h',
    ],
    [
      'comments and a literal that looks like SQL',
      "-- a note\nSELECT '; DROP TABLE orders; --' AS s /* still a note */",
    ],
    ['introspection BI tools use', 'SELECT version(), currentDatabase(), timezone()'],
  ])('%s', async (_, statement) => {
    const response = await sql({ sql: statement });
    expect(response.statusCode, response.body).toBe(200);
    expect(Array.isArray(response.json().data)).toBe(true);
  });

  it('answers CSV and Arrow, an empty answer keeps its columns, and limits cut with a header', async () => {
    const csv = await sql({
      sql: 'SELECT region, sum(orders) AS n FROM orders GROUP BY region',
      format: 'csv',
    });
    expect(csv.statusCode).toBe(200);
    expect(csv.body.split('\n')[0]).toBe('"region","n"');
    const arrow = await sql({ sql: 'SELECT * FROM orders LIMIT 0', format: 'arrow' });
    expect(arrow.rawPayload.subarray(0, 6).toString()).toBe('ARROW1');
    const empty = await sql({ sql: 'SELECT region, orders FROM orders LIMIT 0' });
    expect(empty.json().meta.map((c: { name: string }) => c.name)).toEqual(['region', 'orders']);
    expect(empty.json().data).toEqual([]);

    const bytes = await sql({ sql: "SELECT repeat('x', 100000) AS s FROM orders" });
    expect(bytes.statusCode).toBe(200);
    expect(bytes.headers['x-tidewater-truncated']).toBe('true');
    expect(bytes.rawPayload.length).toBeLessThan(MAX_BYTES + 4096);
    const rows = await sql({ sql: 'SELECT * FROM orders', maxRows: 3 });
    expect(rows.json().data).toHaveLength(3);
    expect(rows.headers['x-tidewater-truncated']).toBe('true');
  });
});

describe('limits', () => {
  it('stops heavy statements with a 4xx, and they never hold the metrics API', async () => {
    // As many heavy statements as there are sessions for them.
    const heavy = Promise.all(HEAVY.slice(0, 2).map((statement) => sql({ sql: statement })));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    const metrics = await app.inject({
      method: 'GET',
      url: '/v1/metrics/orders?from=2025-06-01T10:00:00Z&to=2025-06-01T11:00:00Z&groupBy=region',
    });
    const waited = Date.now() - started;
    expect(metrics.statusCode).toBe(200);
    expect(waited).toBeLessThan((TIMEOUT_SECONDS + 1) * 1000);
    for (const response of await heavy) {
      expect(response.statusCode, response.body).toBeGreaterThanOrEqual(400);
      expect(response.statusCode, response.body).toBeLessThan(500);
      expect(['sql_timeout', 'sql_too_expensive']).toContain(response.json().error.code);
    }
    // chDB hands what a failed query left unread to the session's next query; sessions a statement
    // failed in are replaced, so every lane answers the next statements with their own columns.
    const both = () =>
      Promise.all(
        [1, 2].map(() => sql({ sql: 'SELECT region, sum(orders) AS n FROM orders GROUP BY region' })),
      );
    for (const after of [...(await both()), ...(await both())]) {
      expect(after.statusCode, after.body).toBe(200);
      expect(after.json().meta.map((c: { name: string }) => c.name)).toEqual(['region', 'n']);
    }
  });
});

describe('the function allow-list', () => {
  it('names only functions the engine has', async () => {
    const result = await client.query({ query: 'SELECT name FROM system.functions', format: 'JSONEachRow' });
    const known = new Set((await result.json<{ name: string }>()).map((r) => r.name));
    // What the parser makes of `x -> ...`, `EXISTS (...)` and `GROUPING(...)` is no function of
    // system.functions.
    const syntax = new Set(['lambda', 'exists', 'grouping']);
    expect([...ALLOWED_FUNCTIONS].filter((name) => !known.has(name) && !syntax.has(name))).toEqual([]);
  });
});
