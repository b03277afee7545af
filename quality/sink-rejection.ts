// A record the gate accepted and a sink's engine still refused. Each layer isolates such a record
// from its range (the rest of the range goes on) and quarantines it under this rule with the
// engine's own words, so that one record can never stall a layer.
import type { AcceptedRecord, RejectedRecord } from './types.ts';

export const SINK_REJECTED_RULE = 'sink.rejected';

/** `record` as quarantine keeps it, refused for `reason` (naming the engine) at `at` (ms since epoch). */
export function sinkRejection(record: AcceptedRecord, reason: string, at: number): RejectedRecord {
  const { source, event } = record;
  return {
    source,
    eventId: event.eventId,
    eventType: event.eventType,
    eventTime: event.eventTime,
    failures: [{ ruleId: SINK_REJECTED_RULE, severity: 'quarantine', message: reason }],
    rejectedAt: at,
  };
}
