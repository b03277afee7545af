import type { TidewaterEvent } from '../contracts/index.ts';
import type { FetchedRecord } from '../kafka/index.ts';

/**
 * A message as it came off Kafka (or an HTTP body line): the bytes plus where they came from.
 * It is the fetch's own record shape; HTTP ingest numbers its lines with its own sequence as the
 * offset, and the broker's timestamp is the arrival time that lateness is measured against.
 */
export type RawMessage = FetchedRecord;

export type Severity = 'quarantine' | 'warn';

/** One failed expectation. */
export interface RuleFailure {
  ruleId: string;
  severity: Severity;
  /** Human-readable reason naming the field, e.g. `payload.lines[0].quantity: expected int, received string`. */
  message: string;
}

/** A record that passed every `quarantine` rule (it may carry `warn` results). */
export interface AcceptedRecord {
  source: RawMessage;
  event: TidewaterEvent;
  /** `event.eventTime` in epoch ms as the gate read it (Date.parse's reading), for sinks to reuse. */
  eventTimeMs: number;
  /** Event time older than the allowed lateness at arrival: kept, and counted by the batch layer. */
  late: boolean;
  /** Empty for most records: then a shared frozen array, so do not mutate it. */
  warnings: readonly RuleFailure[];
  /**
   * The event as JSON text where the source bytes do not spell it exactly (contracts' spellsExactly),
   * null where they do; absent where nobody has worked it out yet (set by a verdict board).
   */
  canonical?: string | null;
}

/** A record that failed at least one `quarantine` rule; `failures` lists every failed rule. */
export interface RejectedRecord {
  source: RawMessage;
  /** Set when the bytes decoded far enough to read them. */
  eventId?: string;
  eventType?: string;
  eventTime?: string;
  failures: RuleFailure[];
  /** When the gate rejected it (ms since epoch). */
  rejectedAt: number;
}
