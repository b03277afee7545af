// Reading a table of a metric's states (its speed view by default): merged states per minute and
// dimensions over a time range.
import type { ClickHouseClient } from '@clickhouse/client';
import {
  type Metric,
  mergeSelect,
  metricTable,
  type QueryShape,
  RANGE_PARAMS,
  toSqlTimestamp,
} from '../contracts/catalog.ts';
import { clickhouseDialect } from './dialect.ts';

/** Half-open [from, to) in ISO-8601 (or Date); minutes are UTC. */
export interface TimeRange {
  from: string | Date;
  to: string | Date;
}

/**
 * One result row. 64-bit integers (counts, minor-unit sums) are decimal strings so that they stay
 * exact past 2^53; `minute` is `YYYY-MM-DD hh:mm:ss` UTC.
 */
export type MetricRow = Record<string, string | number | boolean>;

const sqlTime = (time: string | Date) => toSqlTimestamp(new Date(time).toISOString());

/** Finished values of a table of the metric's states (default: its speed view) over a range. */
export function metricQuery(
  metric: Metric,
  range: TimeRange,
  options: QueryShape & { source?: string } = {},
): { query: string; query_params: Record<string, string> } {
  const select = mergeSelect(metric, clickhouseDialect, {
    ...options,
    source: options.source ?? clickhouseDialect.quote(metricTable(metric)),
  });
  return {
    // Pinned because the transports differ by default: HTTP servers quote 64-bit ints, chDB does not.
    query: `${select}\nSETTINGS output_format_json_quote_64bit_integers = 1`,
    query_params: { [RANGE_PARAMS.from]: sqlTime(range.from), [RANGE_PARAMS.to]: sqlTime(range.to) },
  };
}

export async function queryMetric(
  client: ClickHouseClient,
  metric: Metric,
  range: TimeRange,
  options: QueryShape = {},
): Promise<MetricRow[]> {
  const result = await client.query({ ...metricQuery(metric, range, options), format: 'JSONEachRow' });
  return result.json<MetricRow>();
}
