import type { BatchReport, RejectedRecord } from '../quality/index.ts';
import type { Lane } from './delivery.ts';
import type { GroupMemberRange } from './offset-range.ts';
import type { EventTimeWatermark } from './watermark.ts';

/** A gated offset range as its sink gets it. */
export interface GatedRange<P> {
  /** The accepted records as the consumer's preparer turned them (see gates.ts). */
  accepted: P;
  /** Refused by the gate. */
  rejected: RejectedRecord[];
  /** Accepted by the gate, refused by the preparer (the sink's own encoding): not in `accepted`. */
  refused: RejectedRecord[];
  report: BatchReport;
}

/**
 * Where a gated offset range goes. `token` names the range (`<topic>:<partition>:<first>-<last>`,
 * see offset-range.ts); the sink must make the accepted records durable, idempotently so for a
 * token it has seen, before it resolves: the caller then commits the range. Resolves with the
 * newest event time delivered (ms since epoch), for the watermark.
 */
export type Sink<P> = (token: string, range: GatedRange<P>) => Promise<number | undefined>;

/**
 * The one publisher of a consumer's rejected records (the lake writer's, whose sink is deferred):
 * the rejections of the ranges an offset commit covers (the gate's, the preparer's and the sink's)
 * go to quarantine in the same Kafka transaction as that offset commit, so the quarantine topic
 * holds them once however often a range is redone.
 */
export interface QuarantineTransactions {
  /**
   * The transactional producer of `partition` (its transactional id is the partition's): opening
   * it fences any earlier owner's and ends that owner's open transaction, before this owner reads
   * where the partition stands.
   */
  open(partition: number): Promise<PartitionQuarantine>;
}

export interface PartitionQuarantine {
  /**
   * Publishes `records` and commits the partition's offset (clearing any announcement) in one
   * transaction, committed only while `lane` holds. One transaction at a time.
   */
  commit(offset: number, records: readonly RejectedRecord[], lane: Lane): Promise<void>;
  close(): Promise<void>;
}

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
   * Inserts the block staged under `token` again (idempotently: ClickHouse drops it if it landed);
   * fails when nothing is staged under `token`.
   */
  redeliver(token: string, member: GroupMember<P>): Promise<number | undefined>;
}

export interface StagedGroup {
  /** Inserts the block; resolves with each member's newest event time (ms since epoch), for the watermarks. */
  deliver(): Promise<(number | undefined)[]>;
  /** The group is committed: its staged block is no longer needed. Never fails. */
  release(): Promise<void>;
}

/**
 * A sink that takes ranges as they come and makes them durable later, several at a time (the lake:
 * one commit per size or age, not per range). It must recognise what it already holds by offset,
 * since a range is not announced before it is taken: after a crash, Kafka's committed offset may lie
 * behind what the sink holds, and a replayed range may straddle it. A record its engine refuses is
 * isolated, not retried: the sink holds the rest and reports the record as refused, and decides
 * the same when the range is taken again, whether or not it already holds the range.
 */
export interface DeferredSink<P> {
  /**
   * Takes a gated range (a partition's in offset order); resolves once the caller may let go of its
   * records, with what the sink refused and `durable`: resolves with the range's newest event time
   * (ms since epoch) once the range is durable and recorded as held, rejects if that failed.
   */
  take(token: string, range: GatedRange<P>): Promise<Taken>;
  /**
   * Makes what it took durable now rather than by its size or age: the consumer asks when partitions
   * are revoked, since their next owners wait for those ranges (inside kafkajs's batch handler,
   * where waiting out a 60 s commit age would outlast the group's session and rebalance again).
   */
  flush(): Promise<void>;
}

export interface Taken {
  durable: Promise<number | undefined>;
  /** Records the sink's engine refused, isolated from the range, which goes on without them. */
  refused: readonly RejectedRecord[];
}

/** What the consumer reports to a metrics registry. */
export interface ConsumerMetrics {
  observeLag(partition: number, lag: number): void;
  /** The consumer's live watermarks by partition, read at scrape time so that their age is current. */
  trackWatermarks(watermarks: ReadonlyMap<number, EventTimeWatermark>): void;
}
