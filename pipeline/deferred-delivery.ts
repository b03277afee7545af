// Delivery for a DeferredSink (sink.ts), the lake writer's: a lane's ranges go to the sink one after
// the other as soon as they are gated, without waiting for the previous one to be committed, so the
// sink can gather many of them into one durable write. Nothing is announced before the sink takes a
// range: the sink recognises by offset what it already holds (the lake's txn).
//
// The offsets are committed by the partition's quarantine transactions (PartitionQuarantine): once
// a range and every earlier range of its lane are durable, its offset is committed in a Kafka
// transaction together with the rejections of every range that commit covers (the gate's, the
// preparer's and the sink's refusals), in offset order. Ranges that became durable together (one
// lake commit) share a transaction; a lane runs one transaction at a time, and what becomes durable
// meanwhile waits for the next. So Kafka's committed offset says both where the partition resumes
// and which rejections are published: a range redone after a crash or a rebalance starts at that
// offset, and its rejections are published again exactly when they were not yet, whether or not
// the sink already held its records.
import type { RejectedRecord } from '../quality/index.ts';
import type { Delivery, Lane, RangeInHand } from './delivery.ts';
import { dedupToken, type OffsetRange } from './offset-range.ts';
import type { DeferredSink, GatedRange, PartitionQuarantine } from './sink.ts';

/** A range's rejections, the gate's, the preparer's and the sink's, in offset order. */
function rejectionsOf(gated: GatedRange<unknown>, refused: readonly RejectedRecord[]): RejectedRecord[] {
  return [...gated.rejected, ...gated.refused, ...refused].sort(
    (a, b) => Number(a.source.offset) - Number(b.source.offset),
  );
}

interface Gathering {
  offset: number;
  rejections: RejectedRecord[];
  settle: { resolve(): void; reject(error: unknown): void }[];
}

/**
 * Commits a lane's durable ranges: what arrives during one turn of the event loop, and while the
 * lane's previous transaction runs, goes into one transaction at the highest offset.
 */
function transactionalCommits(): (
  lane: Lane,
  quarantine: PartitionQuarantine,
  offset: number,
  rejections: readonly RejectedRecord[],
) => Promise<void> {
  const gathering = new WeakMap<Lane, Gathering>();
  const chains = new WeakMap<Lane, Promise<void>>();

  async function flush(lane: Lane, quarantine: PartitionQuarantine, taken: Gathering): Promise<void> {
    gathering.delete(lane);
    try {
      lane.check();
      await quarantine.commit(taken.offset, taken.rejections, lane);
      for (const s of taken.settle) s.resolve();
    } catch (error) {
      // A later transaction would commit offsets past these rejections unpublished: none follows.
      lane.end(error instanceof Error ? error : new Error(String(error)));
      for (const s of taken.settle) s.reject(error);
    }
  }

  return (lane, quarantine, offset, rejections) =>
    new Promise<void>((resolve, reject) => {
      const open = gathering.get(lane);
      if (open) {
        open.offset = Math.max(open.offset, offset);
        open.rejections.push(...rejections);
        open.settle.push({ resolve, reject });
        return;
      }
      const taken: Gathering = { offset, rejections: [...rejections], settle: [{ resolve, reject }] };
      gathering.set(lane, taken);
      const chain = (chains.get(lane) ?? Promise.resolve())
        .then(() => new Promise<void>((next) => setImmediate(next)))
        .then(() => flush(lane, quarantine, taken));
      chains.set(lane, chain);
    });
}

export function deferredDelivery<P>(topic: string, sink: DeferredSink<P>): Delivery<P> {
  /** Each lane's last range taken, and its durability: the next range follows both. */
  const taken = new WeakMap<Lane, Promise<unknown>>();
  const durable = new WeakMap<Lane, Promise<unknown>>();
  const commit = transactionalCommits();

  const deliver = (range: OffsetRange, { gate, partition, records, lane, quarantine }: RangeInHand<P>) => {
    // A failed previous range fails this one too, before it reaches the sink.
    const take = Promise.all([gate.run(records), taken.get(lane)]).then(async ([gated]) => {
      if (!quarantine) throw new Error('a deferred sink’s offsets are committed by quarantine transactions');
      lane.check();
      const { durable, refused } = await sink.take(dedupToken(topic, partition, range), gated);
      // Only the rejections are kept until the commit: the accepted records are the sink's now.
      return { durable, rejections: rejectionsOf(gated, refused), quarantine };
    });
    taken.set(lane, take);
    const made = Promise.all([take.then((t) => t.durable), durable.get(lane)]).then(([newest]) => newest);
    durable.set(lane, made);
    const committed = made.then(async (newest) => {
      const { rejections, quarantine } = await take;
      await commit(lane, quarantine, range.last + 1, rejections);
      return newest;
    });
    return { committed, released: take };
  };

  return {
    live: async (range, hand) => deliver(range, hand),
    // Announced by an owner that delivered range by range: the sink recognises what it holds.
    pending: (range, hand) => deliver(range, hand).committed,
  };
}
