// How the batch layer's DuckDB SQL reads and renders a metric's columns.
import {
  aggregateCall,
  type LogicalType,
  type Metric,
  MINUTE,
  RAW_COLUMN_NAMES,
  RAW_COLUMNS,
  type RawColumnName,
} from '../contracts/catalog.ts';
import { duckdbDialect } from '../duckdb/index.ts';

const PRESENT: Partial<Record<LogicalType, (column: string) => string>> = {
  minute: (c) => `strftime(${c}, '%Y-%m-%d %H:%M:%S')`,
  timestamp: (c) => `strftime(${c}, '%Y-%m-%d %H:%M:%S.%g')`,
  int64: (c) => `CAST(${c} AS VARCHAR)`,
  uint64: (c) => `CAST(${c} AS VARCHAR)`,
  uuid: (c) => `CAST(${c} AS VARCHAR)`,
};

/**
 * The SQL that renders a column the way the speed layer's queryMetric returns it: 64-bit integers
 * and UUIDs as decimal strings, `minute` as `YYYY-MM-DD hh:mm:ss`, timestamps with milliseconds,
 * strings and booleans as they are.
 */
export function presentColumn(name: string, type: LogicalType): string {
  const q = duckdbDialect.quote(name);
  return `${presentValue(q, type)} AS ${q}`;
}

/** An expression rendered as presentColumn renders a column. */
function presentValue(expression: string, type: LogicalType): string {
  return PRESENT[type]?.(expression) ?? expression;
}

/** A metric's output columns (minute, dimensions, measures) with their logical types. */
export function outputColumns(metric: Metric): { name: string; type: LogicalType }[] {
  return [
    { name: MINUTE, type: 'minute' },
    ...metric.dimensions.map((d) => ({ name: d.name, type: RAW_COLUMNS[d.column].type })),
    ...metric.measures.map((m) => ({ name: m.name, type: aggregateCall(m, duckdbDialect).resultType })),
  ];
}

/** Raw columns a metric reads: event type, time and line index, its dimensions, filters, measures. */
export function metricRawColumns(metric: Metric): RawColumnName[] {
  const columns = new Set<RawColumnName>(['event_type', 'event_time', 'line_index']);
  for (const d of metric.dimensions) columns.add(d.column);
  for (const f of metric.filter ?? []) columns.add(f.field);
  for (const m of metric.measures) {
    if (m.kind !== 'count') columns.add(m.column);
    if (m.kind === 'latest') columns.add('event_id');
    for (const f of m.filter ?? []) columns.add(f.field);
  }
  return RAW_COLUMN_NAMES.filter((c) => columns.has(c));
}
