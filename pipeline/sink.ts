import type { BatchReport, RejectedRecord } from '../quality/index.ts';
import type { EventTimeWatermark } from './watermark.ts';

/** A gated offset range as its sink gets it. */
export interface GatedRange<P> {
  /** The accepted records as the consumer's preparer turned them (see gates.ts). */
  accepted: P;
  rejected: RejectedRecord[];
  report: BatchReport;
}

/**
 * Where a gated offset range goes. `token` names the range (`<topic>:<partition>:<first>-<last>`,
 * see offset-range.ts); the sink must make the accepted records and the rejected ones durable, and
 * idempotently so for a token it has seen, before it resolves: the caller then commits the range.
 * Resolves with the newest event time delivered (ms since epoch), for the watermark.
 */
export type Sink<P> = (token: string, range: GatedRange<P>) => Promise<number | undefined>;

/** What the consumer reports to a metrics registry. */
export interface ConsumerMetrics {
  observeLag(partition: number, lag: number): void;
  /** The consumer's live watermarks by partition, read at scrape time so that their age is current. */
  trackWatermarks(watermarks: ReadonlyMap<number, EventTimeWatermark>): void;
}
