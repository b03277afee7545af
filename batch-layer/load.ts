// Serving a batch view from ClickHouse: per metric a plain MergeTree `<metric>_v<version>_batch` whose
// columns are the speed view's: minute, dimensions and the same aggregate states, so that one query
// merges batch and speed rows at any grain and over any dimensions (an hour of distinct users is not
// the sum of its minutes). The batch view's Parquet holds portable states (duckdb/dialect.ts); the
// load turns lists of distinct values and (value, time) pairs into ClickHouse states with
// arrayReduce('<fn>State', ...), which gives exactly the state the speed view's -State aggregate
// builds from the same values.
//
// The replaced unit is the whole UTC day. A load puts the batch version's rows into a staging table
// of the same structure, then per day of the recomputed range either
//   ALTER TABLE <batch> REPLACE PARTITION '<day>' FROM <staging>   (the day has rows), or
//   ALTER TABLE <batch> DROP PARTITION '<day>'                     (the recompute found none),
// so each day switches from its old rows to its new ones atomically, and days outside the range are
// untouched. (The two differ because ClickHouse refuses REPLACE PARTITION from an empty source.)
// A view built on the version a day already holds in ClickHouse (batch_view_loads, below) stages
// only its scanned hours from files, and the day's other hours from the table's own parts: an hourly
// recompute late in the day loads one hour, not the day so far.
// A load is idempotent: loading the same version again gives the same table. A load replaces
// whatever the days held, older version or not: the caller picks the version (resolveBatchView says
// which is authoritative per day). Each day is atomic; a load of several days or metrics is not, so
// advance the watermark only after it returned.
//
// ClickHouse reads the view's Parquet files itself (insertSelectFromFiles: the embedded engine where
// they are, a server streamed as the request body), so no row passes through JS or a second engine:
// a day of the soak's traffic is ~460,000 rows, which as JS objects cost the all-in-one process
// ~1 GB of RSS at each hourly recompute, and rendered by DuckDB as JSON for ClickHouse to parse
// ~250 MB more than this (bench:jobs).
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import {
  arrayState,
  clickhouseDialect as ch,
  insertSelectFromFiles,
  type MetricRow,
  metricQuery,
  type TimeRange,
} from '../clickhouse/index.ts';
import {
  aggregateCall,
  CATALOG,
  type Catalog,
  type Metric,
  metricTable,
  type QueryShape,
  rollupColumns,
  rollupKey,
} from '../contracts/catalog.ts';
import { type BatchViewManifest, type BatchViewMetric, readBatchManifest, viewHourFile } from './manifest.ts';
import { outputColumns } from './metric-columns.ts';
import { DAY_MS, daysOf, HOUR_MS, toMs } from './time.ts';

const q = ch.quote;

export function batchTable(metric: Pick<Metric, 'name' | 'version'>): string {
  return `${metricTable(metric)}_batch`;
}

/** CREATE TABLE of a metric's batch view in ClickHouse: minute, dimensions, measure states. */
export function batchViewDdl(metric: Metric, table = batchTable(metric)): string {
  const columns = rollupColumns(metric, ch, 'state').map((c) => `  ${q(c.name)} ${c.type}`);
  return [
    `CREATE TABLE IF NOT EXISTS ${q(table)} (`,
    columns.join(',\n'),
    ') ENGINE = MergeTree',
    `PARTITION BY toDate(${q('minute')})`,
    `ORDER BY (${rollupKey(metric).map(q).join(', ')})`,
  ].join('\n');
}

/** How one portable state column is read from the view's Parquet and turned into the view's state. */
interface StateColumn {
  name: string;
  /** ClickHouse type the column is read as (the engine converts the Parquet type to it). */
  readType: string;
  /** ClickHouse expression turning the column as read into the view's state. */
  toState: string;
}

function stateColumns(metric: Metric): StateColumn[] {
  const key = outputColumns(metric).slice(0, rollupKey(metric).length);
  const keyColumns = key.map((c) => ({ name: c.name, readType: ch.columnType(c.type), toState: q(c.name) }));
  const measures = metric.measures.map((m): StateColumn => {
    const call = aggregateCall(m, ch);
    const resultType = ch.columnType(call.resultType);
    if (m.kind === 'distinct_exact' || m.kind === 'distinct_approx') {
      const itemType = ch.columnType(call.argTypes[0] ?? 'string');
      return { name: m.name, readType: `Array(${itemType})`, toState: arrayState(call, [q(m.name)]) };
    }
    if (m.kind === 'latest') {
      return {
        name: m.name,
        readType: `Tuple(v ${resultType}, t ${ch.columnType('timestamp')}, k ${ch.columnType('string')})`,
        toState: arrayState(
          call,
          ['v', 't', 'k'].map((field) => `[${q(m.name)}.${field}]`),
        ),
      };
    }
    return { name: m.name, readType: resultType, toState: q(m.name) };
  });
  return [...keyColumns, ...measures];
}

/** The batch-view DDL of every catalog metric. */
export function batchViewsDdl(catalog: Catalog = CATALOG): string[] {
  return catalog.map((metric) => batchViewDdl(metric));
}

export async function applyBatchViewDdl(client: ClickHouseClient, catalog: Catalog = CATALOG): Promise<void> {
  for (const query of batchViewsDdl(catalog)) await client.command({ query });
}

export interface LoadOptions {
  viewsDir: string;
  /** Batch version to load (default: the newest committed). */
  version?: number;
  catalog?: Catalog;
  /** Staging tables older than this are a dead load's and are dropped (default: STALE_STAGING_MS). */
  staleStagingMs?: number;
}

export interface MetricLoad {
  rows: number;
  /** Days replaced with rows, and days emptied. */
  replacedDays: string[];
  droppedDays: string[];
  /** The view's files read (a view built on the version the table holds: its scanned hours' only). */
  filesRead: number;
  /** The batch version whose rows of the unscanned hours were kept from the table's own parts, if any. */
  keptFrom?: number;
}

export interface LoadResult {
  version: number;
  metrics: Record<string, MetricLoad>;
  /** Staging tables a load that died had left behind, dropped by this one. */
  staleStagingDropped: string[];
}

/**
 * How old a staging table must be before a load takes it for a dead load's: a load stages one metric
 * at a time, each in seconds to minutes, and loads from several processes (a ClickHouse server shared
 * by instances) may run at once, so only age says a table's load is gone.
 */
export const STALE_STAGING_MS = HOUR_MS;

/**
 * A load's staging table, named with when it was made: the embedded engine's database keeps no
 * creation time (`system.tables` gives chDB's tables a `metadata_modification_time` of 1970).
 */
const stagingTable = (table: string, version: number) => `${table}_staging_${version}_${Date.now()}`;
/** Its batch table and creation time; a name without one is an older release's, of unknown age. */
const STAGING = /^(.+)_staging_[0-9]+(?:_([0-9]+))?$/;

/**
 * Drops the catalog's staging tables older than `ageMs`. A load that dies between creating its
 * staging table and dropping it (a SIGKILL, a lost server) leaves one, holding up to a day of a
 * metric's rows (its attached parts) and listed beside the views, which no later load would drop.
 */
async function dropStaleStaging(
  client: ClickHouseClient,
  catalog: Catalog,
  ageMs: number,
): Promise<string[]> {
  const ours = new Set(catalog.map((metric) => batchTable(metric)));
  const found = await jsonRows<{ name: string }>(
    client,
    `SELECT name FROM system.tables WHERE database = currentDatabase() AND match(name, '_staging_[0-9_]+$')`,
  );
  const stale = found
    .map((t) => t.name)
    .filter((name) => {
      const [, table, made] = STAGING.exec(name) ?? [];
      return table !== undefined && ours.has(table) && Number(made ?? 0) <= Date.now() - ageMs;
    });
  for (const name of stale) await client.command({ query: `DROP TABLE IF EXISTS ${q(name)}` });
  return stale;
}

// Which batch version each day of a batch table holds, with its row count then: a view built on that
// version then loads only the hours it scanned, and takes the rest of the day from the table's parts
// (keptFromTable). Rows are only appended, and a day's highest `seq` says (not the
// insert time: chDB gave two inserts a partition change apart the same now64(9)). Before a day's
// partition changes a row of version 0 ("unknown") goes in, so a load that dies between the two
// leaves a day no load builds on; a day whose rows are not as many as recorded (a table dropped or
// emptied by hand) is not built on either.
const LOADS_TABLE = 'batch_view_loads';
const LOADS_DDL = [
  `CREATE TABLE IF NOT EXISTS ${q(LOADS_TABLE)} (`,
  '  `table` String, `day` Date, `seq` UInt64, `batch_version` UInt64, `rows` UInt64',
  ') ENGINE = MergeTree ORDER BY (`table`, `day`, `seq`)',
].join('\n');
const ofDay = `${q('table')} = {table:String} AND ${q('day')} = {day:Date}`;

/** Records that `table` holds `version` of `day` with `rows` rows (version 0: unknown). */
async function recordLoad(
  client: ClickHouseClient,
  table: string,
  day: string,
  version: number,
  rows: number,
) {
  await client.command({
    query:
      `INSERT INTO ${q(LOADS_TABLE)} SELECT {table:String}, {day:Date},` +
      ` (SELECT max(${q('seq')}) + 1 FROM ${q(LOADS_TABLE)} WHERE ${ofDay}), {version:UInt64}, {rows:UInt64}`,
    query_params: { table, day, version, rows },
  });
}

/** The batch version `table` holds of `day`, if it is known and the day's rows are as recorded. */
async function heldVersion(
  client: ClickHouseClient,
  table: string,
  day: string,
): Promise<number | undefined> {
  const [held] = await jsonRows<{ version: string; recorded: string; rows: string }>(
    client,
    `SELECT tupleElement(last, 1) AS version, tupleElement(last, 2) AS recorded,` +
      ` (SELECT count() FROM ${q(table)} WHERE toDate(${q('minute')}) = {day:Date}) AS rows` +
      ` FROM (SELECT argMax((${q('batch_version')}, ${q('rows')}), ${q('seq')}) AS last` +
      ` FROM ${q(LOADS_TABLE)} WHERE ${ofDay})`,
    { table, day },
  );
  const version = Number(held?.version ?? 0);
  return version > 0 && Number(held?.recorded) === Number(held?.rows) ? version : undefined;
}

/**
 * Puts into `staging` the day's rows of the hours a view built on another version did not scan,
 * taken from `table` when it holds that version of the day; returns the view's files still to read.
 * The day's parts are attached to the staging table as they are (hard links, no row read), and the
 * scanned hours' rows in them masked by a lightweight DELETE: an INSERT ... SELECT of the same rows
 * rebuilt every state, took more memory and grows with the day's rows (the hourly recompute late in
 * a 12-hour day, with its load, 3 interleaved runs of `bench/jobs.ts --job hourly-recompute`:
 * +171-195 MB against +201-281, in 2.7-3.8 s against 3.4-3.8; every file read, 5.1-6.1 s).
 */
async function keptFromTable(
  client: ClickHouseClient,
  entry: BatchViewMetric,
  days: readonly string[],
  table: string,
  staging: string,
): Promise<{ files: string[]; keptFrom?: number }> {
  const [day, ...more] = days;
  const built = entry.builtOn;
  // A view that scanned every hour keeps none: attaching the day only to mask all of it is waste.
  if (
    !built ||
    built.scannedHours.length >= DAY_MS / HOUR_MS ||
    day === undefined ||
    more.length > 0 ||
    (await heldVersion(client, table, day)) !== built.batchVersion
  )
    return { files: entry.files };
  const scanned = built.scannedHours.map((hour) => toMs(hour));
  await client.command({
    query: `ALTER TABLE ${q(staging)} ATTACH PARTITION ${ch.literal(day)} FROM ${q(table)}`,
  });
  const inScanned = `toHour(${q('minute')}) IN {hours:Array(UInt8)}`;
  const params = { hours: scanned.map((hour) => new Date(hour).getUTCHours()) };
  // A DELETE that matches nothing still runs its mutation (0.7-1.0 s over the 8 metrics above, the
  // job 3.6-3.8 s against 2.3-3.0): the rows are counted first.
  const [stale] = await jsonRows<{ n: string }>(
    client,
    `SELECT count() AS n FROM ${q(staging)} WHERE ${inScanned}`,
    params,
  );
  if (Number(stale?.n ?? 0) > 0)
    await client.command({ query: `DELETE FROM ${q(staging)} WHERE ${inScanned}`, query_params: params });
  const read = new Set(scanned.map((hour) => join(entry.dir, viewHourFile(hour))));
  return { files: entry.files.filter((f) => read.has(f)), keptFrom: built.batchVersion };
}

async function jsonRows<T>(client: ClickHouseClient, query: string, params: Record<string, unknown> = {}) {
  const result = await client.query({ query, query_params: params, format: 'JSONEachRow' });
  return result.json<T>();
}

/** Loads a committed batch-view version into ClickHouse, replacing the days it covers. */
export async function loadBatchView(client: ClickHouseClient, options: LoadOptions): Promise<LoadResult> {
  const manifest: BatchViewManifest | undefined = readBatchManifest(options.viewsDir, options.version);
  if (!manifest)
    throw new Error(`no committed batch view ${options.version ?? '(latest)'} in ${options.viewsDir}`);
  const catalog = options.catalog ?? CATALOG;
  const days = daysOf({ from: toMs(manifest.from), to: toMs(manifest.to) });
  const result: LoadResult = {
    version: manifest.version,
    metrics: {},
    staleStagingDropped: await dropStaleStaging(client, catalog, options.staleStagingMs ?? STALE_STAGING_MS),
  };
  await client.command({ query: LOADS_DDL });
  for (const entry of manifest.metrics) {
    const metric = catalog.find((m) => m.name === entry.name && m.version === entry.version);
    if (!metric)
      throw new Error(
        `batch view ${manifest.version} has ${entry.name} v${entry.version}, not in the catalog`,
      );
    const table = batchTable(metric);
    const staging = stagingTable(table, manifest.version);
    const columns = stateColumns(metric);
    await client.command({ query: batchViewDdl(metric) });
    await client.command({ query: `CREATE TABLE ${q(staging)} AS ${q(table)}` });
    try {
      const { files, keptFrom } = await keptFromTable(client, entry, days, table, staging);
      await insertSelectFromFiles(client, {
        table: staging,
        select: columns.map((c) => `${c.toState} AS ${q(c.name)}`).join(', '),
        format: 'Parquet',
        structure: columns.map((c) => `${q(c.name)} ${c.readType}`).join(', '),
        files: files.map((f) => join(options.viewsDir, f)),
      });
      const staged = await jsonRows<{ day: string; rows: string }>(
        client,
        `SELECT toString(toDate(${q('minute')})) AS day, count() AS rows FROM ${q(staging)} GROUP BY day`,
      );
      const stagedRows = new Map(staged.map((r) => [r.day, Number(r.rows)]));
      const outside = [...stagedRows.keys()].filter((d) => !days.includes(d));
      if (outside.length > 0)
        throw new Error(
          `batch view ${manifest.version} of ${metric.name} has rows outside its range: ${outside.join(', ')}`,
        );
      const load: MetricLoad = { rows: 0, replacedDays: [], droppedDays: [], filesRead: files.length };
      if (keptFrom !== undefined) load.keptFrom = keptFrom;
      for (const day of days) {
        const partition = ch.literal(day);
        const rows = stagedRows.get(day) ?? 0;
        await recordLoad(client, table, day, 0, 0);
        if (rows > 0) {
          await client.command({
            query: `ALTER TABLE ${q(table)} REPLACE PARTITION ${partition} FROM ${q(staging)}`,
          });
          load.replacedDays.push(day);
        } else {
          await client.command({ query: `ALTER TABLE ${q(table)} DROP PARTITION ${partition}` });
          load.droppedDays.push(day);
        }
        await recordLoad(client, table, day, manifest.version, rows);
        load.rows += rows;
      }
      result.metrics[metric.name] = load;
    } finally {
      await client.command({ query: `DROP TABLE IF EXISTS ${q(staging)}` });
    }
  }
  return result;
}

/** A metric's batch view in ClickHouse over [from, to): finished values in queryMetric's representation. */
export function batchViewQuery(
  metric: Metric,
  range: TimeRange,
  shape: QueryShape = {},
): { query: string; query_params: Record<string, string> } {
  return metricQuery(metric, range, { ...shape, source: q(batchTable(metric)) });
}

export async function queryBatchView(
  client: ClickHouseClient,
  metric: Metric,
  range: TimeRange,
  shape: QueryShape = {},
): Promise<MetricRow[]> {
  const result = await client.query({ ...batchViewQuery(metric, range, shape), format: 'JSONEachRow' });
  return result.json<MetricRow>();
}
