// How a partition worker gets a range through its gate into its sink and commits it, exactly once.
// Ranges are pipelined: `live` resolves as soon as a range is handed to its gate, so the worker
// returns to Kafka for more while ranges are gated and inserted; a lane's ranges are gated in
// offset order (a gate answers in order) and committed in offset order. Three protocols share the
// worker (partition.ts): the two below, and deferredDelivery (deferred-delivery.ts), the lake
// writer's, for a sink that makes ranges durable later, several at a time.
//
// - rangeDelivery: one insert per partition range. The range is announced in the partition's
//   offset commit, inserted under its token and committed, after the partition's previous range
//   is committed. A replay rebuilds the identical range from that partition alone (its records
//   and its gate, rebuilt from its own history).
// - groupDelivery: one insert for the ranges of several partitions (group commit: while one
//   group is in the sink, the next gathers every range that gets gated meanwhile). Every insert
//   costs ClickHouse a part per table and view whatever its size (an insert of 5,000 events costs
//   it ~16 µs per event, one of 150,000 ~2.4), so a group also waits for ranges still in their
//   gate, up to a size and a delay: a fetch round makes one insert, and a backlog large ones. A
//   replay cannot rebuild the other members' rows from one partition, so the sink stages the
//   group's block before the group is announced (GroupSink.stage). The announcement is one
//   offset commit for all members, which the coordinator writes as one batch; whoever then
//   owns a member finds the group's token there and inserts the staged block under it (ClickHouse
//   keeps it once), before committing the member past its range. Each owner re-gates its own
//   member to rebuild its gate's window.
//
// Every commit is made only while the lanes of the ranges it names still hold (Lane): a range
// still in the sink when its partition is revoked is neither announced nor committed afterwards,
// so it stays as Kafka last recorded it and the next owner finishes it.
import type { RawMessage } from '../quality/index.ts';
import type { PartitionGate } from './gates.ts';
import {
  dedupToken,
  groupToken,
  type OffsetRange,
  type PendingRange,
  pendingMetadata,
} from './offset-range.ts';
import type { GatedRange, GroupMember, GroupSink, PartitionQuarantine, Sink } from './sink.ts';

/** A partition's offset commit; `metadata` announces a pending range, null clears it. */
export interface PartitionCommit {
  partition: number;
  offset: number;
  metadata: string | null;
}

/** Commits the partitions' offsets in one request (any partitions of the consumer's assignment). */
export type Commit = (commits: readonly PartitionCommit[]) => Promise<void>;

/**
 * One worker's hold on its partition. It ends when the partition is revoked, the worker is
 * dropped, or one of its ranges fails; from then on none of its ranges is announced or committed
 * (the next worker starts over from what Kafka recorded), and ranges still queued are dropped.
 */
export class Lane {
  private reason: Error | undefined;

  /** Why the lane ended; undefined while it holds. */
  get ended(): Error | undefined {
    return this.reason;
  }

  /** Ends the lane; the first reason stays. */
  end(reason: Error): void {
    this.reason ??= reason;
  }

  /** Throws why the lane ended, if it did. Called right before each commit, in the same tick. */
  check(): void {
    if (this.reason) throw this.reason;
  }
}

/** A range of one partition as a worker hands it over: its records and the gate that judges them. */
export interface RangeInHand<P> {
  gate: PartitionGate<P>;
  partition: number;
  records: readonly RawMessage[];
  lane: Lane;
  /**
   * The partition's publisher of rejections, on the one consumer that publishes them (the lake
   * writer's): its transactions commit the offsets (deferred-delivery.ts).
   */
  quarantine?: PartitionQuarantine;
}

/** A range on its way: `committed` resolves with its newest event time once Kafka has it. */
export interface InFlight {
  committed: Promise<number | undefined>;
  /**
   * Settles once the delivery no longer holds the range's records (a deferred sink has taken
   * them, deferred-delivery.ts); absent, that is when it is committed.
   */
  released?: Promise<unknown>;
}

export interface Delivery<P> {
  /**
   * Hands a live range to its gate and on to the sink behind the lane's earlier ranges; resolves
   * once it is handed over. A lane's ranges are handed over in offset order.
   */
  live(range: OffsetRange, hand: RangeInHand<P>): Promise<InFlight>;
  /** A range an earlier owner announced and never committed, to its commit. */
  pending(range: PendingRange, hand: RangeInHand<P>): Promise<number | undefined>;
}

const cleared = (partition: number, { last }: OffsetRange): PartitionCommit => ({
  partition,
  offset: last + 1,
  metadata: null,
});

/** Commits while every lane holds: the check and the request leave in one tick. */
function commitHolding(commit: Commit, lanes: readonly Lane[], commits: readonly PartitionCommit[]) {
  for (const lane of lanes) lane.check();
  return commit(commits);
}

export function rangeDelivery<P>(topic: string, sink: Sink<P>, commit: Commit): Delivery<P> {
  /** Each lane's last range handed over: the next one goes to the sink after it is committed. */
  const tails = new WeakMap<Lane, Promise<unknown>>();

  const deliver = (range: OffsetRange, hand: RangeInHand<P>, announce: boolean): InFlight => {
    const { gate, partition, records, lane } = hand;
    // A failed previous range fails this one too, before it reaches the sink.
    const committed = Promise.all([gate.run(records), tails.get(lane)]).then(async ([gated]) => {
      if (announce)
        await commitHolding(
          commit,
          [lane],
          [{ partition, offset: range.first, metadata: pendingMetadata(range) }],
        );
      const newest = await sink(dedupToken(topic, partition, range), gated);
      await commitHolding(commit, [lane], [cleared(partition, range)]);
      return newest;
    });
    tails.set(lane, committed);
    return { committed };
  };

  return {
    live: async (range, hand) => deliver(range, hand, true),
    async pending(range, hand) {
      // A group of one is named as its range is; a larger group's rows are not all in this partition.
      if (range.group !== undefined && range.group !== dedupToken(topic, hand.partition, range))
        throw new Error(
          `partition ${hand.partition}: offsets ${range.first}-${range.last} were announced in the grouped insert ` +
            `${range.group}, which only a consumer with a group sink can finish`,
        );
      return deliver(range, hand, false).committed;
    },
  };
}

/** Most members per group: keeps the token, which every member's commit metadata holds, far below Kafka's 4 KB. */
export const MAX_GROUP_MEMBERS = 64;

/** When a group stops waiting for ranges still in their gates (groupDelivery). */
export interface GroupFill {
  /** Records at which a group goes without waiting for more. */
  records: number;
  /** Longest a gated range waits for others to join its group. */
  waitMs: number;
}

/**
 * Backlog inserts of ~100,000 events and more cost ClickHouse about a sixth of 5,000-event ones;
 * the wait bounds what a gate busy without pause (a live rate near capacity) adds to latency.
 */
export const DEFAULT_GROUP_FILL: GroupFill = { records: 200_000, waitMs: 500 };

interface Queued<P> {
  partition: number;
  range: OffsetRange;
  lane: Lane;
  /** Set once its gate has answered. */
  gated?: GatedRange<P>;
  /** When its gate answered (performance.now()). */
  gatedAt: number;
  /** Inserted alone, under the token it was announced under. */
  solo: boolean;
  resolve(newest: number | undefined): void;
  reject(error: unknown): void;
}

export function groupDelivery<P>(
  topic: string,
  sink: GroupSink<P>,
  commit: Commit,
  fill: GroupFill = DEFAULT_GROUP_FILL,
): Delivery<P> {
  /** Ranges handed over and not yet in the sink, in the order they were handed over. */
  const queue: Queued<P>[] = [];
  /** Ranges in their gates. */
  let gating = 0;
  let running = false;
  let timer: NodeJS.Timeout | undefined;

  /** Drops the ranges of ended lanes. */
  function prune(): void {
    for (let i = 0; i < queue.length; ) {
      const q = queue[i] as Queued<P>;
      if (q.lane.ended) {
        queue.splice(i, 1);
        q.reject(q.lane.ended);
      } else i++;
    }
  }

  /**
   * What the next group would take: a gated solo range at the head alone, else each lane's leading
   * gated non-solo ranges (a lane's range waits while an earlier one of it is in its gate), merged
   * into one member per lane, up to the cap.
   */
  function candidates(): Queued<P>[][] {
    const head = queue[0];
    if (head?.solo) return head.gated ? [[head]] : [];
    const byLane = new Map<Lane, Queued<P>[]>();
    const blocked = new Set<Lane>();
    for (const q of queue) {
      if (blocked.has(q.lane)) continue;
      if (q.solo || !q.gated) {
        blocked.add(q.lane);
        continue;
      }
      const taken = byLane.get(q.lane);
      if (taken) taken.push(q);
      else if (byLane.size < MAX_GROUP_MEMBERS) byLane.set(q.lane, [q]);
    }
    return [...byLane.values()];
  }

  /** Whether the group in `members` goes now; otherwise a timer looks again when its wait is over. */
  function due(members: readonly Queued<P>[][]): boolean {
    if (members.length === 0) return false;
    if (gating === 0 || (members[0] as Queued<P>[])[0]?.solo) return true;
    let records = 0;
    let oldest = Number.POSITIVE_INFINITY;
    for (const q of members.flat()) {
      records += q.range.last - q.range.first + 1;
      oldest = Math.min(oldest, q.gatedAt);
    }
    const waited = performance.now() - oldest;
    if (records >= fill.records || waited >= fill.waitMs || members.length >= MAX_GROUP_MEMBERS) return true;
    clearTimeout(timer);
    timer = setTimeout(() => void drain(), fill.waitMs - waited);
    return false;
  }

  async function insert(members: readonly Queued<P>[][]): Promise<void> {
    const taken = new Set(members.flat());
    for (let i = queue.length - 1; i >= 0; i--) if (taken.has(queue[i] as Queued<P>)) queue.splice(i, 1);
    const group = members.map((ranges): GroupMember<P> => {
      const first = ranges[0] as Queued<P>;
      return {
        partition: first.partition,
        range: { first: first.range.first, last: (ranges[ranges.length - 1] as Queued<P>).range.last },
        gated: ranges.map((q) => q.gated as GatedRange<P>),
      };
    });
    const lanes = members.map((ranges) => (ranges[0] as Queued<P>).lane);
    const token = groupToken(topic, group);
    try {
      const staged = await sink.stage(token, group);
      await commitHolding(
        commit,
        lanes,
        group.map((m) => ({
          partition: m.partition,
          offset: m.range.first,
          metadata: pendingMetadata(m.range, token),
        })),
      );
      const newest = await staged.deliver();
      await commitHolding(
        commit,
        lanes,
        group.map((m) => cleared(m.partition, m.range)),
      );
      // Resolved in the tick the commit is seen, before the clean-up: a caller that finds the
      // offsets committed finds the ranges delivered.
      for (const [i, ranges] of members.entries()) for (const q of ranges) q.resolve(newest[i]);
      await staged.release();
    } catch (error) {
      // Before the rejections are seen: the lanes' later ranges must not go into the next group.
      const reason = error instanceof Error ? error : new Error(String(error));
      for (const q of taken) {
        q.lane.end(reason);
        q.reject(error);
      }
    }
  }

  /** Inserts groups while one is due; the sink takes one group at a time. */
  async function drain(): Promise<void> {
    if (running) return;
    running = true;
    try {
      for (;;) {
        prune();
        const members = candidates();
        if (!due(members)) break;
        clearTimeout(timer);
        await insert(members);
      }
    } finally {
      running = false;
    }
  }

  /** Queues a range handed over; `gated` is its gate's answer, awaited here. */
  function enqueue(
    partition: number,
    range: OffsetRange,
    lane: Lane,
    gated: Promise<GatedRange<P>>,
    solo: boolean,
  ): InFlight {
    let entry: Queued<P> | undefined;
    const committed = new Promise<number | undefined>((resolve, reject) => {
      entry = { partition, range, lane, gatedAt: 0, solo, resolve, reject };
    });
    const q = entry as Queued<P>;
    queue.push(q);
    gating++;
    gated
      .then(
        (result) => {
          q.gated = result;
          q.gatedAt = performance.now();
        },
        (error: unknown) => {
          lane.end(error instanceof Error ? error : new Error(String(error)));
          const at = queue.indexOf(q);
          if (at >= 0) queue.splice(at, 1);
          q.reject(error);
        },
      )
      .finally(() => {
        gating--;
        void drain();
      });
    return { committed };
  }

  return {
    async live(range, { gate, partition, records, lane }) {
      return enqueue(partition, range, lane, gate.run(records), false);
    },
    async pending(range, { gate, partition, records, lane }) {
      // Re-gating the range rebuilds the gate's window as the original owner left it.
      const gated = gate.run(records);
      // A range announced without a group (by rangeDelivery) is finished alone, under its own
      // token: grouping it anew would name different rows with a new token.
      if (range.group === undefined) return enqueue(partition, range, lane, gated, true).committed;
      const newest = await sink.redeliver(range.group, { partition, range, gated: [await gated] });
      await commitHolding(commit, [lane], [cleared(partition, range)]);
      return newest;
    },
  };
}
