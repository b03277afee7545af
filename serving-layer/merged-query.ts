// One ClickHouse query per merged answer: the speed view's rows of the speed segments and the batch
// view's rows of the batch segment, UNION ALL, merged by the catalog's compiler at the requested
// grain. Both tables hold the same aggregate states (batch-layer/load.ts), so distinct counts and
// latest values merge across the boundary exactly as they merge within a layer.

import { batchTable } from '../batch-layer/index.ts';
import { clickhouseDialect as ch } from '../clickhouse/index.ts';
import {
  type Metric,
  mergeSelect,
  metricTable,
  type QueryShape,
  RANGE_PARAMS,
  rollupKey,
  toSqlTimestamp,
} from '../contracts/catalog.ts';
import type { Segment } from './merge-plan.ts';

const q = ch.quote;
const sqlTime = (ms: number) => toSqlTimestamp(new Date(ms).toISOString());

const tableOf = (metric: Metric, layer: Segment['layer']) =>
  layer === 'batch' ? batchTable(metric) : metricTable(metric);

/** The rows of each segment from its layer's table, as one relation. */
export function segmentsSource(
  metric: Metric,
  segments: readonly Segment[],
  bound: (name: string, ms: number) => string,
): string {
  const columns = [...rollupKey(metric), ...metric.measures.map((m) => m.name)].map(q).join(', ');
  const parts = segments.map(
    (s, i) =>
      `SELECT ${columns} FROM ${q(tableOf(metric, s.layer))}` +
      ` WHERE ${q('minute')} >= ${bound(`s${i}_from`, s.from)} AND ${q('minute')} < ${bound(`s${i}_to`, s.to)}`,
  );
  return `(${parts.join('\nUNION ALL\n')})`;
}

export interface MergedQuery {
  query: string;
  query_params: Record<string, string>;
}

/**
 * The merged answer over [from, to): JSON numbers for integers (exact in the text ClickHouse writes)
 * and ISO-8601 UTC buckets.
 */
export function mergedQuery(
  metric: Metric,
  range: { from: number; to: number },
  segments: readonly Segment[],
  shape: QueryShape,
): MergedQuery {
  const params: Record<string, string> = {
    [RANGE_PARAMS.from]: sqlTime(range.from),
    [RANGE_PARAMS.to]: sqlTime(range.to),
  };
  const bound = (name: string, ms: number) => {
    params[name] = sqlTime(ms);
    return ch.param(name, 'timestamp');
  };
  const select = mergeSelect(metric, ch, { ...shape, source: segmentsSource(metric, segments, bound) });
  return {
    query: `${select}\nSETTINGS output_format_json_quote_64bit_integers = 0, date_time_output_format = 'iso'`,
    query_params: params,
  };
}

/** The merged view behind a metric's SQL table: per minute and every dimension, all time. */
export function mergedViewSelect(metric: Metric, segments: readonly Segment[]): string {
  const literal = (_: string, ms: number) => `toDateTime64(${ch.literal(sqlTime(ms))}, 3, 'UTC')`;
  return mergeSelect(metric, ch, {
    source: segmentsSource(metric, segments, literal),
    bounded: false,
  });
}
