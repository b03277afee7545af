// Where a gated offset range goes: its prepared insert (prepare.ts) into ClickHouse under the range's
// deduplication token; rejected records to quarantine. Both are durable when this resolves, so the
// caller may commit the range. Late events are inserted too: the views count every minute they
// get, and the batch layer stays authoritative for late data.
import type { ClickHouseClient } from '@clickhouse/client';
import type { Sink } from '../pipeline/index.ts';
import type { QualityMetrics, RejectedRecord } from '../quality/index.ts';
import type { SpeedCommitPublisher } from './commits.ts';
import { insertEncoded } from './insert.ts';
import type { SpeedMetrics } from './metrics.ts';
import type { PreparedInsert } from './prepare.ts';

/** Quarantine as the sink needs it: resolves once the records are acknowledged. */
export interface QuarantineSink {
  publish(records: readonly RejectedRecord[]): Promise<void>;
}

export interface SinkOptions {
  clickhouse: ClickHouseClient;
  quarantine: QuarantineSink;
  metrics?: SpeedMetrics;
  qualityMetrics?: QualityMetrics;
  /** Told the event times of each committed insert (live push, query cache); never awaited. */
  commits?: Pick<SpeedCommitPublisher, 'notify'>;
}

export function createSink({
  clickhouse,
  quarantine,
  metrics,
  qualityMetrics,
  commits,
}: SinkOptions): Sink<PreparedInsert> {
  return async (token, { accepted: prepared, rejected, report }) => {
    const started = performance.now();
    await insertEncoded(clickhouse, prepared.body, token);
    const insertSeconds = (performance.now() - started) / 1000;
    if (rejected.length > 0) await quarantine.publish(rejected);
    metrics?.observeDelivery(report.in, prepared.rows, insertSeconds);
    qualityMetrics?.observeBatch(report);
    const { oldest, newest } = prepared;
    if (oldest !== undefined && newest !== undefined) commits?.notify(oldest, newest);
    return newest;
  };
}
