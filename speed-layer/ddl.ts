// ClickHouse DDL of the speed view, generated from the catalog: the raw table, and per metric an
// AggregatingMergeTree target `<metric>_v<version>` fed by the materialized view `<..>_mv`.
// Everything is CREATE ... IF NOT EXISTS: applying is idempotent, and a metric whose version was
// bumped gets new tables beside the old ones. The views of its earlier versions are dropped, so
// that no insert pays for rollups nothing reads; their tables and rows stay until an operator
// drops them (the data is theirs to keep). A new view only sees rows inserted after it exists;
// history before that is the batch layer's to recompute. Rows already past the raw TTL when
// inserted (late events) are dropped from the raw table at once but still reach the views.
import type { ClickHouseClient } from '@clickhouse/client';
import { clickhouseDialect as dialect } from '../clickhouse/index.ts';
import {
  CATALOG,
  type Catalog,
  type Metric,
  metricTable,
  RAW_COLUMN_NAMES,
  RAW_COLUMNS,
  rollupColumns,
  rollupKey,
  rollupSelect,
} from '../contracts/catalog.ts';

export const RAW_TABLE = 'events_raw';

export interface SpeedDdlOptions {
  /** Days raw rows are kept; rollups are kept until dropped. */
  rawTtlDays: number;
  /**
   * Recent insert blocks remembered per table for deduplication (ClickHouse's
   * non_replicated_deduplication_window). Must exceed the inserts that can happen between a
   * failed insert and its retry.
   */
  dedupWindow: number;
}

export const DEFAULT_SPEED_DDL_OPTIONS: SpeedDdlOptions = { rawTtlDays: 7, dedupWindow: 10_000 };

const q = dialect.quote;

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`${name} must be a positive integer, got ${value}`);
  return value;
}

const settings = (options: SpeedDdlOptions) =>
  `SETTINGS non_replicated_deduplication_window = ${positiveInt(options.dedupWindow, 'dedupWindow')}`;

/**
 * The raw table is written all the time and read rarely (freshness, debugging): merging it less
 * eagerly than ClickHouse's default (base 5) halved its merge CPU in a 60-insert probe, for about
 * twice as many active parts. Rollup targets keep the default, since queries read them.
 */
const RAW_MERGE_SELECTOR_BASE = 10;

export function rawTableDdl(options: SpeedDdlOptions = DEFAULT_SPEED_DDL_OPTIONS): string {
  const columns = RAW_COLUMN_NAMES.map(
    (name) => `  ${q(name)} ${dialect.columnType(RAW_COLUMNS[name].type)}`,
  );
  return [
    `CREATE TABLE IF NOT EXISTS ${q(RAW_TABLE)} (`,
    columns.join(',\n'),
    ') ENGINE = MergeTree',
    `PARTITION BY toDate(${q('event_time')})`,
    `ORDER BY (${q('event_type')}, ${q('event_time')})`,
    `TTL ${q('event_time')} + INTERVAL ${positiveInt(options.rawTtlDays, 'rawTtlDays')} DAY`,
    `${settings(options)}, merge_selector_base = ${RAW_MERGE_SELECTOR_BASE}`,
  ].join('\n');
}

export function metricTableDdl(metric: Metric, options: SpeedDdlOptions = DEFAULT_SPEED_DDL_OPTIONS): string {
  const columns = rollupColumns(metric, dialect).map((c) => `  ${q(c.name)} ${c.type}`);
  return [
    `CREATE TABLE IF NOT EXISTS ${q(metricTable(metric))} (`,
    columns.join(',\n'),
    ') ENGINE = AggregatingMergeTree',
    `PARTITION BY toDate(${q('minute')})`,
    `ORDER BY (${rollupKey(metric).map(q).join(', ')})`,
    settings(options),
  ].join('\n');
}

export function metricViewName(metric: Pick<Metric, 'name' | 'version'>): string {
  return `${metricTable(metric)}_mv`;
}

export function metricViewDdl(metric: Metric): string {
  return [
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${q(metricViewName(metric))} TO ${q(metricTable(metric))} AS`,
    rollupSelect(metric, dialect, { source: q(RAW_TABLE), stage: 'state' }),
  ].join('\n');
}

/** All statements, in an order that applies: raw table, then each target before its view. */
export function speedLayerDdl(
  catalog: Catalog = CATALOG,
  options: SpeedDdlOptions = DEFAULT_SPEED_DDL_OPTIONS,
): string[] {
  return [rawTableDdl(options), ...catalog.flatMap((m) => [metricTableDdl(m, options), metricViewDdl(m)])];
}

/** The materialized views of each metric's earlier versions, which the current one retires. */
function retiredViewNames(catalog: Catalog): string[] {
  return catalog.flatMap(({ name, version }) =>
    Array.from({ length: version - 1 }, (_, i) => metricViewName({ name, version: i + 1 })),
  );
}

/**
 * Creates what is missing and drops the views of earlier metric versions; returns the views it
 * dropped, for the caller to say so.
 */
export async function applySpeedLayerDdl(
  client: ClickHouseClient,
  catalog: Catalog = CATALOG,
  options: SpeedDdlOptions = DEFAULT_SPEED_DDL_OPTIONS,
): Promise<string[]> {
  for (const query of speedLayerDdl(catalog, options)) await client.command({ query });
  const retired = new Set(retiredViewNames(catalog));
  if (retired.size === 0) return [];
  const existing = await client.query({
    query: 'SELECT name FROM system.tables WHERE database = currentDatabase()',
    format: 'JSONEachRow',
  });
  const dropped = (await existing.json<{ name: string }>()).map((t) => t.name).filter((n) => retired.has(n));
  for (const name of dropped) await client.command({ query: `DROP VIEW IF EXISTS ${q(name)}` });
  return dropped;
}

/** What a start that dropped `views` tells its operator, a line each. */
export const retiredViewsNotice = (views: readonly string[]): string =>
  views
    .map((view) => {
      const table = view.replace(/_mv$/, '');
      return `speed layer: ${table} holds an earlier version of a metric: dropped its view ${view}, so it is no longer fed; its rows stay until an administrator drops it: DELETE /v1/retired-tables/${table}`;
    })
    .join('\n');
