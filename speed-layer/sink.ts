// Where a gated offset range goes: accepted events, enriched into raw rows, into ClickHouse under
// the range's deduplication token; rejected records to quarantine. Both are durable when this
// resolves, so the caller may commit the range. Late events are inserted too: the views count
// every minute they get, and the batch layer stays authoritative for late data.
import type { ClickHouseClient } from '@clickhouse/client';
import { type DimensionIndex, type RawRow, toRawRows } from '../contracts/index.ts';
import type { Sink } from '../pipeline/index.ts';
import type { GateResult, QualityMetrics, RejectedRecord } from '../quality/index.ts';
import type { SpeedCommitPublisher } from './commits.ts';
import { encodeRows, insertEncoded } from './insert.ts';
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
  /** Told the event times of each committed insert (live push, query cache); never awaited. */
  commits?: Pick<SpeedCommitPublisher, 'notify'>;
}

const parseEventTime = (t: string) => Date.parse(`${t.replace(' ', 'T')}Z`);

/**
 * Oldest and newest `event_time` of `rows`. The column is UTC at fixed width
 * (`2025-01-01 00:03:07.250`), so string order is time order and only the winners are parsed.
 */
function eventTimeSpan(rows: readonly RawRow[]): { oldest: number; newest: number } | undefined {
  if (rows.length === 0) return undefined;
  let oldest = (rows[0] as RawRow).event_time;
  let newest = oldest;
  for (const row of rows) {
    if (row.event_time > newest) newest = row.event_time;
    else if (row.event_time < oldest) oldest = row.event_time;
  }
  return { oldest: parseEventTime(oldest), newest: parseEventTime(newest) };
}

/** What a delivery keeps while it inserts: the encoded rows rather than the parsed events. */
interface Prepared {
  body: string;
  rows: number;
  records: number;
  rejected: readonly RejectedRecord[];
  report: GateResult['report'];
  span: { oldest: number; newest: number } | undefined;
}

function prepare(result: GateResult, dimensions: DimensionIndex): Prepared {
  const rows = result.accepted.flatMap((record) => toRawRows(record.event, dimensions));
  return {
    body: encodeRows(rows),
    rows: rows.length,
    records: result.accepted.length + result.rejected.length + result.duplicates,
    rejected: result.rejected,
    report: result.report,
    span: eventTimeSpan(rows),
  };
}

export function createSink({
  clickhouse,
  quarantine,
  dimensions,
  metrics,
  qualityMetrics,
  commits,
}: SinkOptions): Sink {
  const deliver = async (token: string, prepared: Prepared) => {
    const started = performance.now();
    if (prepared.rows > 0) await insertEncoded(clickhouse, prepared.body, token);
    const insertSeconds = (performance.now() - started) / 1000;
    if (prepared.rejected.length > 0) await quarantine.publish(prepared.rejected);
    metrics?.observeDelivery(prepared.records, prepared.rows, insertSeconds);
    qualityMetrics?.observeBatch(prepared.report);
    const { span } = prepared;
    if (span) commits?.notify(span.oldest, span.newest);
    return span?.newest;
  };
  // The gate result is turned into `Prepared` before the first await, so the parsed events it
  // holds die young rather than surviving the insert into V8's old space.
  return (token, result) => deliver(token, prepare(result, dimensions));
}
