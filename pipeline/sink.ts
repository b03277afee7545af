import type { BatchReport, RejectedRecord } from '../quality/index.ts';
import type { GroupMemberRange } from './offset-range.ts';
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

/**
 * One partition's part of a grouped insert: its range, gated as one or more consecutive ranges
 * (in offset order), whose rows follow one another in the block.
 */
export interface GroupMember<P> extends GroupMemberRange {
  gated: readonly GatedRange<P>[];
}

/**
 * Where grouped inserts go (see delivery.ts): one block for the ranges of several partitions. A
 * group is staged before it is announced, so that whichever consumer finishes one of its members
 * after a crash or a rebalance inserts the identical block, not only its own range.
 */
export interface GroupSink<P> {
  /**
   * Keeps the group's block durably under `token`, where every consumer of the group can read it,
   * before the group is announced in the members' offset commits.
   */
  stage(token: string, members: readonly GroupMember<P>[]): Promise<StagedGroup>;
  /**
   * Inserts the block staged under `token` again (idempotently: ClickHouse drops it if it landed)
   * and makes `member`'s rejected records durable; fails when nothing is staged under `token`.
   */
  redeliver(token: string, member: GroupMember<P>): Promise<number | undefined>;
}

export interface StagedGroup {
  /**
   * Inserts the block and makes every member's rejected records durable; resolves with each
   * member's newest event time (ms since epoch), for the watermarks.
   */
  deliver(): Promise<(number | undefined)[]>;
  /** The group is committed: its staged block is no longer needed. Never fails. */
  release(): Promise<void>;
}

/**
 * A sink that takes ranges as they come and makes them durable later, several at a time (the lake:
 * one commit per size or age, not per range). It must recognise what it already holds by offset,
 * since a range is not announced before it is taken: after a crash, Kafka's committed offset may lie
 * behind what the sink holds, and a replayed range may straddle it.
 */
export interface DeferredSink<P> {
  /**
   * Takes a gated range (a partition's in offset order); resolves once the caller may let go of its
   * records, with `durable`: resolves with the range's newest event time (ms since epoch) once the
   * range is durable and recorded as held, rejects if that failed.
   */
  take(token: string, range: GatedRange<P>): Promise<{ durable: Promise<number | undefined> }>;
}

/** What the consumer reports to a metrics registry. */
export interface ConsumerMetrics {
  observeLag(partition: number, lag: number): void;
  /** The consumer's live watermarks by partition, read at scrape time so that their age is current. */
  trackWatermarks(watermarks: ReadonlyMap<number, EventTimeWatermark>): void;
}
