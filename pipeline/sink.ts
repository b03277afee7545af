import type { GateResult } from '../quality/index.ts';

/**
 * Where a gated offset range goes. `token` names the range (`<topic>:<partition>:<first>-<last>`,
 * see offset-range.ts); the sink must make the accepted records and the rejected ones durable, and
 * idempotently so for a token it has seen, before it resolves: the caller then commits the range.
 * Resolves with the newest event time delivered (ms since epoch), for the watermark.
 */
export type Sink = (token: string, result: GateResult) => Promise<number | undefined>;

/** What the consumer reports to a metrics registry. */
export interface ConsumerMetrics {
  observeLag(partition: number, lag: number): void;
  /** The consumer's live watermarks by partition, read at scrape time so that their age is current. */
  trackWatermarks(watermarks: ReadonlyMap<number, import('./watermark.ts').EventTimeWatermark>): void;
}
