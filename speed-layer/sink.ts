// Where a gated offset range goes: accepted events, enriched into raw rows, into ClickHouse under
// the range's deduplication token; rejected records to quarantine. Both are durable when this
// resolves, so the caller may commit the range. Late events are inserted too: the views count
// every minute they get, and the batch layer stays authoritative for late data.
import type { ClickHouseClient } from '@clickhouse/client';
import { type DimensionIndex, toRawRows } from '../contracts/index.ts';
import type { Sink } from '../pipeline/index.ts';
import type { AcceptedRecord, GateResult, QualityMetrics, RejectedRecord } from '../quality/index.ts';
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

/** Oldest and newest event time of `records`, as the gate read them. */
function eventTimeSpan(records: readonly AcceptedRecord[]): { oldest: number; newest: number } | undefined {
  if (records.length === 0) return undefined;
  let oldest = Number.POSITIVE_INFINITY;
  let newest = Number.NEGATIVE_INFINITY;
  for (const { eventTimeMs } of records) {
    if (eventTimeMs > newest) newest = eventTimeMs;
    if (eventTimeMs < oldest) oldest = eventTimeMs;
  }
  return { oldest, newest };
}

/** What a delivery keeps while it inserts: the encoded rows rather than the parsed events. */
interface Prepared {
  /** Undefined when no event gave a row. */
  body: Buffer | undefined;
  rows: number;
  records: number;
  rejected: readonly RejectedRecord[];
  report: GateResult['report'];
  span: { oldest: number; newest: number } | undefined;
}

function prepare(result: GateResult, dimensions: DimensionIndex): Prepared {
  const rows = result.accepted.flatMap((record) => toRawRows(record.event, dimensions));
  return {
    body: rows.length > 0 ? encodeRows(rows) : undefined,
    rows: rows.length,
    records: result.accepted.length + result.rejected.length + result.duplicates,
    rejected: result.rejected,
    report: result.report,
    span: eventTimeSpan(result.accepted),
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
    await insertEncoded(clickhouse, prepared.body, token);
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
