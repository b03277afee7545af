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
import { type BatchViewManifest, readBatchManifest } from './manifest.ts';
import { outputColumns } from './metric-columns.ts';
import { daysOf, toMs } from './time.ts';

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
}

export interface LoadResult {
  version: number;
  /** Per metric: rows loaded, days replaced with rows, days emptied. */
  metrics: Record<string, { rows: number; replacedDays: string[]; droppedDays: string[] }>;
}

async function jsonRows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  const result = await client.query({ query, format: 'JSONEachRow' });
  return result.json<T>();
}

/** Loads a committed batch-view version into ClickHouse, replacing the days it covers. */
export async function loadBatchView(client: ClickHouseClient, options: LoadOptions): Promise<LoadResult> {
  const manifest: BatchViewManifest | undefined = readBatchManifest(options.viewsDir, options.version);
  if (!manifest)
    throw new Error(`no committed batch view ${options.version ?? '(latest)'} in ${options.viewsDir}`);
  const catalog = options.catalog ?? CATALOG;
  const days = daysOf({ from: toMs(manifest.from), to: toMs(manifest.to) });
  const result: LoadResult = { version: manifest.version, metrics: {} };
  for (const entry of manifest.metrics) {
    const metric = catalog.find((m) => m.name === entry.name && m.version === entry.version);
    if (!metric)
      throw new Error(
        `batch view ${manifest.version} has ${entry.name} v${entry.version}, not in the catalog`,
      );
    const table = batchTable(metric);
    const staging = `${table}_staging_${manifest.version}`;
    const columns = stateColumns(metric);
    await client.command({ query: batchViewDdl(metric) });
    await client.command({ query: `DROP TABLE IF EXISTS ${q(staging)}` });
    await client.command({ query: `CREATE TABLE ${q(staging)} AS ${q(table)}` });
    try {
      await insertSelectFromFiles(client, {
        table: staging,
        select: columns.map((c) => `${c.toState} AS ${q(c.name)}`).join(', '),
        format: 'Parquet',
        structure: columns.map((c) => `${q(c.name)} ${c.readType}`).join(', '),
        files: entry.files.map((f) => join(options.viewsDir, f)),
      });
      const staged = await jsonRows<{ day: string; rows: string }>(
        client,
        `SELECT toString(toDate(${q('minute')})) AS day, count() AS rows FROM ${q(staging)} GROUP BY day`,
      );
      const stagedDays = new Set(staged.map((r) => r.day));
      const outside = [...stagedDays].filter((d) => !days.includes(d));
      if (outside.length > 0)
        throw new Error(
          `batch view ${manifest.version} of ${metric.name} has rows outside its range: ${outside.join(', ')}`,
        );
      const replacedDays: string[] = [];
      const droppedDays: string[] = [];
      for (const day of days) {
        const partition = ch.literal(day);
        if (stagedDays.has(day)) {
          await client.command({
            query: `ALTER TABLE ${q(table)} REPLACE PARTITION ${partition} FROM ${q(staging)}`,
          });
          replacedDays.push(day);
        } else {
          await client.command({ query: `ALTER TABLE ${q(table)} DROP PARTITION ${partition}` });
          droppedDays.push(day);
        }
      }
      const rows = staged.reduce((n, r) => n + Number(r.rows), 0);
      result.metrics[metric.name] = { rows, replacedDays, droppedDays };
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
