// How a partition worker gets a gated range into its sink and commits it, exactly once. Two
// protocols share the worker (partition.ts):
//
// - rangeDelivery: one insert per partition range. The range is announced in the partition's
//   offset commit, inserted under its token and committed. A replay rebuilds the identical range
//   from that partition alone (its records and its gate, rebuilt from its own history).
// - groupDelivery: one insert for the ranges of several partitions (group commit: while one
//   group is in the sink, the next gathers every range that gets gated meanwhile). Every insert
//   costs ClickHouse a part per table and view whatever its size, so fewer, larger inserts save
//   CPU and keep a fetch round's ranges from queueing behind one another. A replay cannot rebuild
//   the other members' rows from one partition, so the sink stages the group's block before the
//   group is announced (GroupSink.stage). The announcement is one offset commit for all members,
//   which the coordinator writes as one batch; whoever then owns a member finds the group's token
//   there and inserts the staged block under it (ClickHouse keeps it once), before committing
//   the member past its range. Each owner re-gates its own member to rebuild its gate's window
//   and to republish the member's rejected records.
import type { RawMessage } from '../quality/index.ts';
import type { PartitionGate } from './gates.ts';
import {
  dedupToken,
  groupToken,
  type OffsetRange,
  type PendingRange,
  pendingMetadata,
} from './offset-range.ts';
import type { GroupMember, GroupSink, Sink } from './sink.ts';

/** A partition's offset commit; `metadata` announces a pending range, null clears it. */
export interface PartitionCommit {
  partition: number;
  offset: number;
  metadata: string | null;
}

/** The fetch in hand's handles on the consumer. */
export interface PartitionControl {
  /** Commits the partitions' offsets in one request (any partitions of this consumer's assignment). */
  commit(commits: readonly PartitionCommit[]): Promise<void>;
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
  /** False once the consumer stops or the partition is being revoked: stop after the chunk in hand. */
  proceed(): boolean;
}

/** A range of one partition as a worker hands it over: its records and the gate that judges them. */
export interface RangeInHand<P> {
  gate: PartitionGate<P>;
  partition: number;
  records: readonly RawMessage[];
  control: PartitionControl;
}

export interface Delivery<P> {
  /** A live range, from its announcement to its commit; resolves with its newest event time. */
  live(range: OffsetRange, hand: RangeInHand<P>): Promise<number | undefined>;
  /** A range an earlier owner announced and never committed, to its commit. */
  pending(range: PendingRange, hand: RangeInHand<P>): Promise<number | undefined>;
}

const cleared = (partition: number, { last }: OffsetRange): PartitionCommit => ({
  partition,
  offset: last + 1,
  metadata: null,
});

export function rangeDelivery<P>(topic: string, sink: Sink<P>): Delivery<P> {
  const deliver = async (range: OffsetRange, { gate, partition, records, control }: RangeInHand<P>) => {
    const newest = await sink(dedupToken(topic, partition, range), await gate.run(records));
    await control.commit([cleared(partition, range)]);
    return newest;
  };
  return {
    async live(range, hand) {
      await hand.control.commit([
        { partition: hand.partition, offset: range.first, metadata: pendingMetadata(range) },
      ]);
      return deliver(range, hand);
    },
    async pending(range, hand) {
      // A group of one is named as its range is; a larger group's rows are not all in this partition.
      if (range.group !== undefined && range.group !== dedupToken(topic, hand.partition, range))
        throw new Error(
          `partition ${hand.partition}: offsets ${range.first}-${range.last} were announced in the grouped insert ` +
            `${range.group}, which only a consumer with a group sink can finish`,
        );
      return deliver(range, hand);
    },
  };
}

/** Most members per group: keeps the token, which every member's commit metadata holds, far below Kafka's 4 KB. */
export const MAX_GROUP_MEMBERS = 64;

interface Queued<P> {
  member: GroupMember<P>;
  control: PartitionControl;
  /** Inserted alone, under the token it was announced under. */
  solo: boolean;
  resolve(newest: number | undefined): void;
  reject(error: unknown): void;
}

export function groupDelivery<P>(topic: string, sink: GroupSink<P>): Delivery<P> {
  const queue: Queued<P>[] = [];
  let running = false;

  /** The next group: the first queued range if solo, else every non-solo one (up to the cap). */
  function next(): Queued<P>[] {
    if ((queue[0] as Queued<P>).solo) return queue.splice(0, 1);
    const group: Queued<P>[] = [];
    for (let i = 0; i < queue.length && group.length < MAX_GROUP_MEMBERS; ) {
      if ((queue[i] as Queued<P>).solo) i++;
      else group.push(...queue.splice(i, 1));
    }
    return group;
  }

  async function insert(group: readonly Queued<P>[]): Promise<void> {
    const members = group.map((q) => q.member);
    const token = groupToken(topic, members);
    // Any member's handle commits for all: a commit names its partitions, not the fetch it came from.
    const { commit } = (group[0] as Queued<P>).control;
    try {
      const staged = await sink.stage(token, members);
      await commit(
        members.map((m) => ({
          partition: m.partition,
          offset: m.range.first,
          metadata: pendingMetadata(m.range, token),
        })),
      );
      const newest = await staged.deliver();
      await commit(members.map((m) => cleared(m.partition, m.range)));
      await staged.release();
      for (const [i, q] of group.entries()) q.resolve(newest[i]);
    } catch (error) {
      for (const q of group) q.reject(error);
    }
  }

  /** Everything queued while the previous group was in the sink goes into the next one. */
  async function drain(): Promise<void> {
    if (running) return;
    running = true;
    try {
      while (queue.length > 0) await insert(next());
    } finally {
      running = false;
    }
  }

  function enqueue(member: GroupMember<P>, control: PartitionControl, solo: boolean) {
    return new Promise<number | undefined>((resolve, reject) => {
      queue.push({ member, control, solo, resolve, reject });
      void drain();
    });
  }

  return {
    async live(range, { gate, partition, records, control }) {
      return enqueue({ partition, range, gated: await gate.run(records) }, control, false);
    },
    async pending(range, { gate, partition, records, control }) {
      // Re-gating the range rebuilds the gate's window as the original owner left it.
      const member = { partition, range, gated: await gate.run(records) };
      // A range announced without a group (by rangeDelivery) is finished alone, under its own
      // token: grouping it anew would name different rows with a new token.
      if (range.group === undefined) return enqueue(member, control, true);
      const newest = await sink.redeliver(range.group, member);
      await control.commit([cleared(partition, range)]);
      return newest;
    },
  };
}
