// Where a gated offset range goes: accepted events, enriched into raw rows, into ClickHouse under
// the range's deduplication token; rejected records to quarantine. Both are durable when this
// resolves, so the caller may commit the range. Late events are inserted too: the views count
// every minute they get, and the batch layer stays authoritative for late data.
import type { ClickHouseClient } from '@clickhouse/client';
import { type DimensionIndex, type RawRow, toRawRows } from '../contracts/index.ts';
import type { Sink } from '../pipeline/index.ts';
import type { QualityMetrics, RejectedRecord } from '../quality/index.ts';
import { insertRaw } from './insert.ts';
import type { SpeedMetrics } from './metrics.ts';

/** Quarantine as the sink needs it: resolves once the records are acknowledged. */
export interface QuarantineSink {
  publish(records: readonly RejectedRecord[]): Promise<void>;
}

export interface SinkOptions {
  clickhouse: ClickHouseClient;
  quarantine: QuarantineSink;
  dimensions: DimensionIndex;
  metrics?: SpeedMetrics;
  qualityMetrics?: QualityMetrics;
}

/**
 * Newest `event_time` of `rows`. The column is UTC at fixed width (`2025-01-01 00:03:07.250`), so
 * string order is time order and only the winner is parsed.
 */
function newestEventTime(rows: readonly RawRow[]): number | undefined {
  let newest = '';
  for (const row of rows) if (row.event_time > newest) newest = row.event_time;
  return newest === '' ? undefined : Date.parse(`${newest.replace(' ', 'T')}Z`);
}

export function createSink({
  clickhouse,
  quarantine,
  dimensions,
  metrics,
  qualityMetrics,
}: SinkOptions): Sink {
  return async (token, result) => {
    const rows = result.accepted.flatMap((record) => toRawRows(record.event, dimensions));
    const started = performance.now();
    await insertRaw(clickhouse, rows, token);
    const insertSeconds = (performance.now() - started) / 1000;
    if (result.rejected.length > 0) await quarantine.publish(result.rejected);
    const records = result.accepted.length + result.rejected.length + result.duplicates;
    metrics?.observeDelivery(records, rows.length, insertSeconds);
    qualityMetrics?.observeBatch(result.report);
    return newestEventTime(rows);
  };
}
