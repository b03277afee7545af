// The Lambda consistency proof: the same generated events, recomputed by DuckDB from Parquet (batch)
// and rolled up by ClickHouse materialized views (speed), give the same metrics; the batch view
// loads into ClickHouse, replaces whole days, and the watermark only moves forward.
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  advanceWatermark,
  batchViewDdl,
  loadBatchView,
  queryBatchView,
  readBatchManifest,
  readWatermark,
  recomputeMetrics,
  resolveBatchView,
  runBatch,
} from '../batch-layer/index.ts';
import { createClickHouse, type MetricRow, queryMetric, type TimeRange } from '../clickhouse/index.ts';
import {
  CATALOG,
  getMetric,
  indexDimensions,
  type Metric,
  metricTable,
  RAW_COLUMN_NAMES,
  RAW_COLUMNS,
  type RawRow,
  rollupColumns,
  rollupSelect,
  toRawRows,
} from '../contracts/catalog.ts';
import { buildDimensions, type TidewaterEvent } from '../contracts/index.ts';
import { DUCKDB_HLL_RELATIVE_ERROR, duckdbDialect, openDuck, readParquet } from '../duckdb/index.ts';
import { GroundTruth, generate } from '../generator/index.ts';
import { EVENTS_SCHEMA } from '../lake/index.ts';
import { applySpeedLayerDdl, insertRaw } from '../speed-layer/index.ts';

// One chDB data directory per test file: libchdb binds one per process.
const workDir = mkdtempSync(join(tmpdir(), 'tidewater-batch-'));
const viewsDir = join(workDir, 'views');
let client: ClickHouseClient;

// 40k records at 100/s from 23:57 UTC: seven minutes across midnight, late events up to ten minutes
// back, so two UTC days.
const START = '2025-05-01T23:57:00Z';
const DAY1 = '2025-05-01';
const DAY2 = '2025-05-02';
const range: TimeRange = { from: `${DAY1}T00:00:00Z`, to: '2025-05-03T00:00:00Z' };
const day2: TimeRange = { from: `${DAY2}T00:00:00Z`, to: '2025-05-03T00:00:00Z' };
const truth = new GroundTruth();
const events: TidewaterEvent[] = [];
/**
 * Inventory updates of one key in the same millisecond, in pairs [the greater event id, the other],
 * in a minute of their own after the generated traffic. The speed layer gets each pair in that
 * order and the lake in the other, so a view that takes a tie by arrival takes different events.
 * The winner reports a stock-out, the other 9 units: a tie broken per measure (by value) would mix
 * the two. The last pair's winner spells its id in upper case (the gate accepts it): as text 'B…'
 * sorts before 'a…', so only a view that compares ids in their canonical (lower-case) form takes it.
 */
const ties: [TidewaterEvent, TidewaterEvent][] = [];
const TIED_PAIRS = 4;
/** Ids of one tied pair, the winner first; the last pair's winner in upper case. */
function tiedIds(pair: number): [string, string] {
  if (pair === TIED_PAIRS - 1)
    return [`b${randomUUID().slice(1)}`.toUpperCase(), `a${randomUUID().slice(1)}`];
  return [randomUUID(), randomUUID()].sort().reverse() as [string, string];
}
const TIE_MINUTE = '2025-05-02T00:06';
let lakeFiles: string[] = [];
let recomputed: Awaited<ReturnType<typeof recomputeMetrics>>;

/**
 * Writes raw rows as a lake would: RawRow columns plus source_partition, source_offset and the event
 * JSON, hive-partitioned by date/hour of event time. Returns the Parquet files.
 */
async function writeLake(dir: string, rows: readonly (RawRow & { event: string })[]): Promise<string[]> {
  const ndjson = `${dir}.ndjson`;
  writeFileSync(
    ndjson,
    rows.map((row, i) => JSON.stringify({ ...row, source_partition: 0, source_offset: i })).join('\n'),
  );
  // As the lake types them (a uuid is a Delta string there, so DuckDB reads the id as written).
  const lakeType = (c: (typeof RAW_COLUMN_NAMES)[number]) =>
    EVENTS_SCHEMA.columns.find((column) => column.name === c)?.type === 'string'
      ? 'VARCHAR'
      : duckdbDialect.columnType(RAW_COLUMNS[c].type);
  const columns = [
    ...RAW_COLUMN_NAMES.map((c) => `${c}: '${lakeType(c)}'`),
    "source_partition: 'INTEGER'",
    "source_offset: 'BIGINT'",
    "event: 'JSON'",
  ];
  const duck = await openDuck();
  try {
    await duck.connection.run(
      `COPY (SELECT *, CAST(event_time AS DATE) AS date, lpad(CAST(hour(event_time) AS VARCHAR), 2, '0') AS hour
         FROM read_json('${ndjson}', format = 'newline_delimited', columns = {${columns.join(', ')}}))
       TO '${dir}' (FORMAT parquet, PARTITION_BY (date, hour))`,
    );
  } finally {
    duck.close();
  }
  rmSync(ndjson);
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.parquet'))
    .map((f) => join(dir, f))
    .sort();
}

const lakeRows = (list: readonly TidewaterEvent[]) => {
  const index = indexDimensions(buildDimensions());
  return list.flatMap((event) =>
    toRawRows(event, index).map((row) => ({ ...row, event: JSON.stringify(event) })),
  );
};

beforeAll(async () => {
  const seen = new Set<string>();
  for (const record of generate({
    seed: 11,
    count: 40_000,
    rate: 100,
    start: START,
    lateFraction: 0.02,
    duplicateFraction: 0.01,
    badFraction: 0.01,
  })) {
    truth.add(record);
    // The gate: bad records are quarantined, a repeated eventId is dropped (first one wins).
    if ((record.kind !== 'good' && record.kind !== 'duplicate') || !record.event) continue;
    if (seen.has(record.event.eventId)) continue;
    seen.add(record.event.eventId);
    events.push(record.event);
  }
  const keys = new Set<string>();
  for (const event of events) {
    if (event.eventType !== 'inventory.update' || ties.length >= TIED_PAIRS) continue;
    const { locationId, productId } = event.payload;
    if (keys.has(`${locationId}|${productId}`)) continue;
    keys.add(`${locationId}|${productId}`);
    const eventTime = `${TIE_MINUTE}:3${ties.length}.123Z`;
    const [high, low] = tiedIds(ties.length);
    const update = (eventId: string, onHand: number): TidewaterEvent => ({
      ...event,
      eventId,
      eventTime,
      payload: { ...event.payload, onHand },
    });
    ties.push([update(high, 0), update(low, 9)]);
  }
  const rows = lakeRows([...events, ...ties.flatMap(([high, low]) => [low, high])]);
  mkdirSync(join(workDir, 'lake'));
  lakeFiles = await writeLake(join(workDir, 'lake', 'events'), rows);

  client = createClickHouse({ dataDir: join(workDir, 'data') });
  await applySpeedLayerDdl(client, CATALOG, { rawTtlDays: 10 * 365, dedupWindow: 1000 });
  const batch = 5000;
  const raw = lakeRows([...events, ...ties.flat()]).map(({ event: _, ...row }) => row);
  for (let i = 0; i < raw.length; i += batch)
    await insertRaw(client, raw.slice(i, i + batch), `batch-test/${i}`);

  recomputed = await recomputeMetrics({ files: lakeFiles, ...range, output: { viewsDir, lakeVersion: 3 } });
});

afterAll(async () => {
  await client?.close();
  rmSync(workDir, { recursive: true, force: true });
});

const approxMeasures = (metric: Metric) => metric.measures.filter((m) => m.kind === 'distinct_approx');
/** Rows without the metric's approximate measures, which batch rows hold exactly and views estimate. */
const exactPart = (metric: Metric, rows: readonly MetricRow[]) => {
  const approx = new Set(approxMeasures(metric).map((m) => m.name));
  return rows.map((row) => Object.fromEntries(Object.entries(row).filter(([k]) => !approx.has(k))));
};

describe('DuckDB dialect', () => {
  const final = (name: string) =>
    rollupSelect(getMetric(name), duckdbDialect, { source: 't', stage: 'final' });

  it('spells final values cast to the catalog result types, filters as FILTER clauses', () => {
    const cart = final('cart_activity');
    expect(cart).toContain(`date_trunc('minute', "event_time") AS "minute"`);
    expect(cart).toContain(`CAST(count(*) FILTER (WHERE ("event_type" = 'cart.add')) AS UBIGINT) AS "adds"`);
    // sum FILTER over no rows is NULL in DuckDB, 0 in ClickHouse's sumIf.
    expect(cart).toContain(
      `CAST(coalesce(sum("quantity") FILTER (WHERE ("event_type" = 'cart.add')), 0) AS BIGINT) AS "units_added"`,
    );
    const inventory = final('inventory');
    expect(inventory).toContain(
      'CAST(arg_max("on_hand", ("event_time", "event_id")) AS BIGINT) AS "latest_on_hand"',
    );
    expect(inventory).toContain('CAST(max("event_time") AS TIMESTAMP) AS "last_update"');
    expect(final('active_users')).toContain('CAST(count(DISTINCT "user_id") AS UBIGINT) AS "users"');
    expect(duckdbDialect.literal("it's")).toBe("'it''s'");
  });

  it('keeps distinct values and (value, time) pairs as mergeable states', () => {
    const state = (name: string) =>
      rollupSelect(getMetric(name), duckdbDialect, { source: 't', stage: 'state' });
    expect(state('active_users')).toContain('coalesce(list(DISTINCT "user_id"), []) AS "users"');
    expect(state('inventory')).toContain(
      'struct_pack(v := CAST(arg_max("on_hand", ("event_time", "event_id")) AS BIGINT), t := max("event_time"), k := CAST(arg_max("event_id", ("event_time", "event_id")) AS VARCHAR)) AS "latest_on_hand"',
    );
    expect(state('orders')).toContain('CAST(count(*) AS UBIGINT) AS "orders"');
  });

  it("keeps a filtered latest value's state as ClickHouse's argMaxIf: the greatest (time, id as text), the type's default over no rows", async () => {
    const call = {
      kind: 'latest',
      args: ['v', 't', 'id'],
      argTypes: ['int64', 'timestamp', 'uuid'],
      condition: 'ok',
      resultType: 'int64',
    } as const;
    // Tied in time, the id greater as text wins: 8… over 7…, which a signed 128-bit order would reverse.
    const duck = await openDuck(1);
    try {
      const read = await duck.connection.runAndReadAll(
        `SELECT g, CAST(${duckdbDialect.aggregate(call, 'state')} AS VARCHAR) AS s
         FROM (VALUES (1, 5, TIMESTAMP '2026-01-01 00:00:01', '80000000-0000-0000-0000-000000000000', true),
                      (1, 7, TIMESTAMP '2026-01-01 00:00:01', '7fffffff-ffff-ffff-ffff-ffffffffffff', true),
                      (1, 9, TIMESTAMP '2026-01-01 00:00:02', 'ffffffff-ffff-ffff-ffff-ffffffffffff', false),
                      (1, 4, TIMESTAMP '2026-01-01 00:00:00', 'ffffffff-ffff-ffff-ffff-fffffffffffe', true),
                      (2, 3, TIMESTAMP '2026-01-01 00:00:00', '00000000-0000-0000-0000-000000000001', false))
                AS r(g, v, t, id_text, ok), LATERAL (SELECT CAST(id_text AS UUID) AS id)
         GROUP BY g ORDER BY g`,
      );
      expect(read.getRowObjectsJS()).toEqual([
        { g: 1, s: "{'v': 5, 't': '2026-01-01 00:00:01', 'k': 80000000-0000-0000-0000-000000000000}" },
        { g: 2, s: "{'v': 0, 't': NULL, 'k': NULL}" },
      ]);
    } finally {
      duck.close();
    }
  });

  it('refuses batch views of partial days', async () => {
    await expect(
      recomputeMetrics({
        files: [],
        from: `${DAY1}T01:00:00Z`,
        to: `${DAY2}T00:00:00Z`,
        output: { viewsDir },
      }),
    ).rejects.toThrow(/whole UTC days/);
  });
});

describe('generated input', () => {
  it('spans two UTC days, with late events, duplicates and bad records removed by the test gate', () => {
    const report = truth.toJSON();
    expect(report.totals.duplicates).toBeGreaterThan(100);
    expect(report.totals.bad).toBeGreaterThan(100);
    expect(events).toHaveLength(report.totals.good);
    const days = new Set(events.map((e) => new Date(e.eventTime).toISOString().slice(0, 10)));
    expect([...days].sort()).toEqual([DAY1, DAY2]);
    expect(lakeFiles.some((f) => f.includes(`date=${DAY1}/hour=23/`))).toBe(true);
    expect(lakeFiles.some((f) => f.includes(`date=${DAY2}/hour=00/`))).toBe(true);
  });
});

describe('Lambda consistency: DuckDB over Parquet equals ClickHouse materialized views', () => {
  it('every metric: counts, minor-unit sums, exact distincts, latest values equal; approximations within bound', async () => {
    const counts: string[] = [];
    for (const metric of CATALOG) {
      const batch = recomputed.metrics[metric.name]?.rows ?? [];
      const speed = await queryMetric(client, metric, range);
      expect(batch.length, metric.name).toBeGreaterThan(0);
      counts.push(`${metric.name} ${batch.length}`);
      const approx = approxMeasures(metric);
      expect(exactPart(metric, batch), metric.name).toEqual(exactPart(metric, speed));
      for (const measure of approx) {
        if (measure.kind !== 'distinct_approx') continue;
        let worst = 0;
        for (const [i, row] of batch.entries()) {
          const exact = Number(row[measure.name]);
          worst = Math.max(worst, Math.abs(Number(speed[i]?.[measure.name]) - exact) / exact);
        }
        console.log(
          `${metric.name}.${measure.name}: speed vs exact batch, worst relative error ${worst.toFixed(4)}`,
        );
        expect(worst, `${metric.name}.${measure.name}`).toBeLessThanOrEqual(measure.relativeError);
      }
    }
    console.log(`rows compared per metric: ${counts.join(', ')}`);
  });

  it('a tie in event time goes to the event with the greater id in both views, whatever the order', async () => {
    expect(ties).toHaveLength(TIED_PAIRS);
    const inventory = getMetric('inventory');
    const tied = (rows: readonly MetricRow[]) =>
      rows
        .filter((row) => String(row.minute).startsWith(TIE_MINUTE.replace('T', ' ')))
        .map(({ location_id, product_id, latest_on_hand, is_stock_out }) => ({
          location_id,
          product_id,
          latest_on_hand,
          is_stock_out,
        }));
    const expected = ties.map(([high]) => {
      if (high.eventType !== 'inventory.update') throw new Error('not an inventory update');
      const { locationId, productId } = high.payload;
      return { location_id: locationId, product_id: productId, latest_on_hand: '0', is_stock_out: true };
    });
    const key = (row: { location_id: unknown; product_id: unknown }) =>
      `${row.location_id}|${row.product_id}`;
    const byKey = (a: Parameters<typeof key>[0], b: Parameters<typeof key>[0]) =>
      key(a).localeCompare(key(b));
    expect(tied(recomputed.metrics.inventory?.rows ?? []).sort(byKey)).toEqual(expected.sort(byKey));
    expect(tied(await queryMetric(client, inventory, range)).sort(byKey)).toEqual(expected.sort(byKey));
  });

  it('the batch layer counts approximate distincts exactly (users = users_exact)', () => {
    const rows = recomputed.metrics.active_users?.rows ?? [];
    expect(rows.length).toBeGreaterThan(10);
    for (const row of rows) expect(row.users).toBe(row.users_exact);
  });

  it("DuckDB's approx_count_distinct misses the declared 2% on this data (why the batch counts exactly)", async () => {
    const users = getMetric('active_users');
    const declared = approxMeasures(users)[0];
    if (declared?.kind !== 'distinct_approx') throw new Error('active_users has no approximate measure');
    const duck = await openDuck();
    try {
      const read = await duck.connection.runAndReadAll(
        `SELECT max(abs(approx - exact) / exact) AS worst, avg(abs(approx - exact) / exact) AS mean, count(*) AS n
         FROM (SELECT date_trunc('minute', event_time) AS m, approx_count_distinct(user_id) AS approx,
                      count(DISTINCT user_id) AS exact
               FROM ${readParquet(lakeFiles)} WHERE event_type IN (${users.eventTypes.map((t) => `'${t}'`).join(', ')})
               GROUP BY m)`,
      );
      const { worst, mean } = read.getRowObjects()[0] as { worst: number; mean: number };
      console.log(
        `approx_count_distinct per minute: mean error ${mean.toFixed(4)}, worst ${worst.toFixed(4)}`,
      );
      // If a DuckDB upgrade makes this fail, its estimator may now honour the bound: reconsider.
      expect(worst).toBeGreaterThan(declared.relativeError);
      expect(DUCKDB_HLL_RELATIVE_ERROR).toBeGreaterThan(declared.relativeError);
    } finally {
      duck.close();
    }
  });

  it('orders summed over channels equal the generator ground truth per minute and region', () => {
    const sums = new Map<
      string,
      { minute: string; region: string; orders: bigint; revenue_minor: bigint; units: bigint }
    >();
    for (const row of recomputed.metrics.orders?.rows ?? []) {
      const key = `${row.minute}|${row.region}`;
      const cell = sums.get(key) ?? {
        minute: row.minute as string,
        region: row.region as string,
        orders: 0n,
        revenue_minor: 0n,
        units: 0n,
      };
      cell.orders += BigInt(row.orders as string);
      cell.revenue_minor += BigInt(row.revenue_minor as string);
      cell.units += BigInt(row.units as string);
      sums.set(key, cell);
    }
    const expected = truth.toJSON().orders.map((cell) => ({
      minute: cell.minute.replace('T', ' ').replace('Z', ''),
      region: cell.region,
      orders: BigInt(cell.orders),
      revenue_minor: BigInt(cell.revenueMinor),
      units: BigInt(cell.units),
    }));
    expect(expected.length).toBeGreaterThan(20);
    expect([...sums.values()]).toEqual(expected);
  });

  it('one shared scan and one scan per metric give the same rows', async () => {
    const perMetric = await recomputeMetrics({ files: lakeFiles, ...range, scan: 'per-metric' });
    for (const metric of CATALOG) {
      expect(perMetric.metrics[metric.name]?.rows, metric.name).toEqual(
        recomputed.metrics[metric.name]?.rows,
      );
    }
  });

  it('reads a file that spans hours in the slice of each hour it holds', async () => {
    // The lake's files each hold one hour; one file of every event crosses midnight.
    const merged = join(workDir, 'merged.parquet');
    const duck = await openDuck(1);
    try {
      await duck.connection.run(
        `COPY (SELECT * FROM ${readParquet(lakeFiles)}) TO '${merged}' (FORMAT parquet)`,
      );
    } finally {
      duck.close();
    }
    const sliced = await recomputeMetrics({
      files: [merged],
      ...range,
      output: { viewsDir: join(workDir, 'views-merged') },
    });
    for (const metric of CATALOG) {
      expect(sliced.metrics[metric.name]?.rows, metric.name).toEqual(recomputed.metrics[metric.name]?.rows);
    }
    expect(sliced.view?.metrics.find((m) => m.name === 'orders')?.files.length).toBeGreaterThan(1);
  });
});

describe('batch view', () => {
  it('is committed as version 1 with a manifest and one Parquet file per metric and hour of its rows', () => {
    const manifest = readBatchManifest(viewsDir);
    expect(manifest).toMatchObject({
      version: 1,
      lakeVersion: 3,
      from: '2025-05-01T00:00:00.000Z',
      to: '2025-05-03T00:00:00.000Z',
    });
    expect(manifest?.metrics.map((m) => m.name)).toEqual(CATALOG.map((m) => m.name));
    for (const metric of CATALOG) {
      expect(manifest?.rowCounts[metric.name]).toBe(recomputed.metrics[metric.name]?.rows.length);
      const entry = manifest?.metrics.find((m) => m.name === metric.name);
      // Each hour is written on its own, so that one statement holds an hour's groups, not a day's.
      const hours = new Set(
        recomputed.metrics[metric.name]?.rows.map((r) => {
          const minute = String(r.minute);
          return `date=${minute.slice(0, 10)}/hour_${minute.slice(11, 13)}.parquet`;
        }),
      );
      expect(hours.size).toBeGreaterThan(1);
      expect(entry?.files).toEqual(
        [...hours].sort().map((file) => `${metricTable(metric)}/batch_version=1/${file}`),
      );
    }
  });

  it('written straight from the rollup when no rows are asked for: the same files, rows and counts', async () => {
    const streamedDir = join(workDir, 'views-streamed');
    const streamed = await recomputeMetrics({
      files: lakeFiles,
      ...range,
      output: { viewsDir: streamedDir },
      collectRows: false,
    });
    const tabled = readBatchManifest(viewsDir);
    expect(streamed.view?.rowCounts).toEqual(tabled?.rowCounts);
    expect(streamed.view?.metrics).toEqual(tabled?.metrics);
    const session = await openDuck(1);
    try {
      for (const entry of tabled?.metrics ?? []) {
        // Distinct values are sets: their lists come in whatever order the aggregate met them.
        const sets = rollupColumns(getMetric(entry.name), duckdbDialect, 'state')
          .filter((c) => c.type.endsWith('[]'))
          .map((c) => `list_sort(${duckdbDialect.quote(c.name)}) AS ${duckdbDialect.quote(c.name)}`);
        const read = (dir: string) =>
          `(SELECT * ${sets.length ? `REPLACE (${sets.join(', ')})` : ''} FROM ${readParquet(entry.files.map((f) => join(dir, f)))})`;
        const differing = await session.connection.runAndReadAll(
          `SELECT count(*) AS n FROM ((FROM ${read(viewsDir)} EXCEPT ALL FROM ${read(streamedDir)})` +
            ` UNION ALL (FROM ${read(streamedDir)} EXCEPT ALL FROM ${read(viewsDir)}))`,
        );
        expect(differing.getRowObjects()[0]?.n, entry.name).toBe(0n);
      }
    } finally {
      session.close();
    }
  });

  it('ClickHouse DDL has the state columns of the speed view, so both layers merge in one query', () => {
    const ddl = batchViewDdl(getMetric('inventory'));
    expect(ddl).toContain('CREATE TABLE IF NOT EXISTS `inventory_v2_batch`');
    expect(ddl).toContain(
      "`latest_on_hand` AggregateFunction(argMax, Int64, Tuple(DateTime64(3, 'UTC'), String))",
    );
    expect(ddl).toContain('`updates` SimpleAggregateFunction(sum, UInt64)');
    expect(ddl).toContain("`last_update` SimpleAggregateFunction(max, DateTime64(3, 'UTC'))");
    expect(ddl).toContain('PARTITION BY toDate(`minute`)');
  });

  it('loads into ClickHouse as the states of the speed view: the same rows, estimates included', async () => {
    const load = await loadBatchView(client, { viewsDir });
    expect(load.version).toBe(1);
    for (const metric of CATALOG) {
      expect(load.metrics[metric.name]?.replacedDays).toEqual([DAY1, DAY2]);
      expect(load.metrics[metric.name]?.rows, metric.name).toBe(recomputed.metrics[metric.name]?.rows.length);
      const served = await queryBatchView(client, metric, range);
      expect(exactPart(metric, served), metric.name).toEqual(
        exactPart(metric, recomputed.metrics[metric.name]?.rows ?? []),
      );
      // The same distinct values give the same HyperLogLog state as the speed view built.
      expect(served, metric.name).toEqual(await queryMetric(client, metric, range));
    }
  });

  it('merges with the speed view at coarser grains: an hour of users is not the sum of its minutes', async () => {
    const metric = getMetric('active_users');
    const shape = { grain: 'hour' as const, dimensions: [] };
    const batch = await queryBatchView(client, metric, range, shape);
    const speed = await queryMetric(client, metric, range, shape);
    expect(batch).toEqual(speed);
    const truth = new Map<string, Set<string>>();
    for (const e of events) {
      if (!metric.eventTypes.includes(e.eventType)) continue;
      const hour = `${new Date(e.eventTime).toISOString().slice(0, 13).replace('T', ' ')}:00:00`;
      truth.set(hour, (truth.get(hour) ?? new Set()).add(e.userId));
    }
    expect(batch.map((r) => [r.hour, Number(r.users_exact)])).toEqual(
      [...truth].sort(([a], [b]) => a.localeCompare(b)).map(([hour, users]) => [hour, users.size]),
    );
    const perMinute = await queryBatchView(client, metric, range, { dimensions: [] });
    const summed = perMinute.reduce((n, r) => n + Number(r.users_exact), 0);
    expect(summed).toBeGreaterThan(batch.reduce((n, r) => n + Number(r.users_exact), 0));
  });

  it('a re-run of one day with different data replaces that day only; an empty re-run empties it', async () => {
    const before = await Promise.all(CATALOG.map((m) => queryBatchView(client, m, range)));
    const inDay1 = (rows: MetricRow[]) => rows.filter((r) => (r.minute as string).startsWith(DAY1));
    const inDay2 = (rows: MetricRow[]) => rows.filter((r) => (r.minute as string).startsWith(DAY2));

    // Half the events: every day-2 count changes.
    mkdirSync(join(workDir, 'lake2'));
    const halfFiles = await writeLake(
      join(workDir, 'lake2', 'events'),
      lakeRows(events.filter((_, i) => i % 2 === 0)),
    );
    const half = await recomputeMetrics({ files: halfFiles, ...day2, output: { viewsDir } });
    expect(half.view?.version).toBe(2);
    const load = await loadBatchView(client, { viewsDir });
    expect(load.version).toBe(2);
    for (const [i, metric] of CATALOG.entries()) {
      const after = await queryBatchView(client, metric, range);
      expect(inDay1(after), metric.name).toEqual(inDay1(before[i] ?? []));
      expect(exactPart(metric, inDay2(after)), metric.name).toEqual(
        exactPart(metric, half.metrics[metric.name]?.rows ?? []),
      );
      expect(inDay2(after), metric.name).not.toEqual(inDay2(before[i] ?? []));
    }

    // Day 2 recomputed from a snapshot with no rows that day: the partition is dropped.
    const empty = await recomputeMetrics({ files: [], ...day2, output: { viewsDir } });
    expect(empty.view?.rowCounts.orders).toBe(0);
    const emptied = await loadBatchView(client, { viewsDir, version: 3 });
    expect(emptied.metrics.orders).toEqual({ rows: 0, replacedDays: [], droppedDays: [DAY2], filesRead: 0 });
    for (const [i, metric] of CATALOG.entries()) {
      const after = await queryBatchView(client, metric, range);
      expect(after, metric.name).toEqual(inDay1(before[i] ?? []));
    }

    // Druid-style resolution: per day the newest version covering it.
    const resolved = resolveBatchView(viewsDir, getMetric('orders'));
    expect([...resolved.entries()].map(([day, v]) => [day, v.batchVersion, v.files.length])).toEqual([
      [DAY1, 1, 1],
      [DAY2, 3, 0],
    ]);

    // Loading version 1 again restores both days.
    await loadBatchView(client, { viewsDir, version: 1 });
    for (const [i, metric] of CATALOG.entries())
      expect(await queryBatchView(client, metric, range)).toEqual(before[i]);
  });
});

describe('batch watermark', () => {
  const hour = 3_600_000;
  const lateness = 10 * 60_000;

  it('advances to min(to, now − lateness) rounded down, never backwards, never over a gap', () => {
    const dir = join(workDir, 'wm');
    expect(readWatermark(dir)).toBeUndefined();
    // Snapshot taken at 14:05 on day 2: complete up to 13:55, rounded down to 13:00.
    let r = advanceWatermark(dir, {
      from: `${DAY1}T00:00:00Z`,
      to: '2025-05-03T00:00:00Z',
      now: `${DAY2}T14:05:00Z`,
      allowedLatenessMs: lateness,
      batchVersion: 1,
    });
    expect(r.advanced).toBe(true);
    expect(readWatermark(dir)).toMatchObject({
      watermark: `${DAY2}T13:00:00.000Z`,
      since: `${DAY1}T00:00:00.000Z`,
    });

    // Backfill of older history: does not lower it, extends where the batch span starts.
    r = advanceWatermark(dir, {
      from: '2025-04-30T00:00:00Z',
      to: `${DAY1}T00:00:00Z`,
      now: '2025-05-03T00:00:00Z',
      allowedLatenessMs: lateness,
    });
    expect(r).toMatchObject({ advanced: false, reason: 'not-newer' });
    expect(readWatermark(dir)).toMatchObject({
      watermark: `${DAY2}T13:00:00.000Z`,
      since: '2025-04-30T00:00:00.000Z',
    });

    // Re-run of day 2 later: moves on to the end of the range.
    r = advanceWatermark(dir, {
      from: `${DAY2}T00:00:00Z`,
      to: '2025-05-03T00:00:00Z',
      now: '2025-05-04T00:00:00Z',
      allowedLatenessMs: lateness,
    });
    expect(r.advanced).toBe(true);
    expect(readWatermark(dir)?.watermark).toBe('2025-05-03T00:00:00.000Z');

    // A range after a gap (05-03 never recomputed) does not move it.
    r = advanceWatermark(dir, {
      from: '2025-05-04T00:00:00Z',
      to: '2025-05-05T00:00:00Z',
      now: '2025-05-06T00:00:00Z',
      allowedLatenessMs: lateness,
    });
    expect(r).toMatchObject({ advanced: false, reason: 'gap' });
    // A run that has nothing complete yet.
    r = advanceWatermark(dir, {
      from: '2025-05-03T00:00:00Z',
      to: '2025-05-04T00:00:00Z',
      now: '2025-05-03T00:05:00Z',
      allowedLatenessMs: lateness,
      intervalMs: hour,
    });
    expect(r).toMatchObject({ advanced: false, reason: 'incomplete' });
    expect(readWatermark(dir)?.watermark).toBe('2025-05-03T00:00:00.000Z');
  });

  it('runBatch advances it only after the load, with the batch and lake versions', async () => {
    const dir = join(workDir, 'run');
    const run = await runBatch({
      client,
      files: lakeFiles,
      lakeVersion: 7,
      ...range,
      viewsDir: dir,
      now: '2025-05-02T00:30:00Z',
      allowedLatenessMs: lateness,
    });
    expect(run.load.metrics.orders?.replacedDays).toEqual([DAY1, DAY2]);
    expect(run.watermark.advanced).toBe(true);
    expect(readWatermark(dir)).toMatchObject({
      watermark: `${DAY2}T00:00:00.000Z`,
      batchVersion: 1,
      lakeVersion: 7,
    });
    // The run loaded the same table: reading it back equals the first recompute.
    expect(await queryBatchView(client, getMetric('orders'), range)).toEqual(recomputed.metrics.orders?.rows);
  });
});
