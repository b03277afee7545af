// Delivery for a DeferredSink (sink.ts): a lane's ranges go to the sink one after the other as soon
// as they are gated, without waiting for the previous one to be committed, so the sink can gather
// many of them into one durable write. A range's offsets are committed once it and every earlier
// range of its lane are durable; ranges that became durable together (one lake commit) are
// committed together, one Kafka request per turn of the event loop, each partition at its highest
// offset. Nothing is announced before the sink takes a range: the sink recognises by offset what
// it already holds (the lake's txn), so a replay after a crash neither loses nor duplicates.
import { type Commit, commitHolding, type Delivery, type Lane, type RangeInHand } from './delivery.ts';
import { dedupToken, type OffsetRange } from './offset-range.ts';
import type { DeferredSink } from './sink.ts';

interface Waiting {
  partition: number;
  offset: number;
  settle: { resolve(): void; reject(error: unknown): void }[];
}

/** Commits offsets gathered during one turn of the event loop in one request, one at a time. */
function gatheredCommits(commit: Commit): (lane: Lane, partition: number, offset: number) => Promise<void> {
  let gathering = new Map<Lane, Waiting>();
  let chain: Promise<void> = Promise.resolve();
  let scheduled = false;

  async function flush(): Promise<void> {
    scheduled = false;
    const taken = gathering;
    gathering = new Map();
    const holding = [...taken].filter(([lane, waiting]) => {
      if (!lane.ended) return true;
      for (const s of waiting.settle) s.reject(lane.ended);
      return false;
    });
    if (holding.length === 0) return;
    try {
      await commitHolding(
        commit,
        holding.map(([lane]) => lane),
        holding.map(([, w]) => ({ partition: w.partition, offset: w.offset, metadata: null })),
      );
      for (const [, w] of holding) for (const s of w.settle) s.resolve();
    } catch (error) {
      for (const [, w] of holding) for (const s of w.settle) s.reject(error);
    }
  }

  return (lane, partition, offset) =>
    new Promise<void>((resolve, reject) => {
      const waiting = gathering.get(lane) ?? { partition, offset, settle: [] };
      waiting.offset = Math.max(waiting.offset, offset);
      waiting.settle.push({ resolve, reject });
      gathering.set(lane, waiting);
      if (scheduled) return;
      scheduled = true;
      chain = chain.then(() => new Promise<void>((next) => setImmediate(next))).then(flush);
    });
}

export function deferredDelivery<P>(topic: string, sink: DeferredSink<P>, commit: Commit): Delivery<P> {
  /** Each lane's last range taken, and its durability: the next range follows both. */
  const taken = new WeakMap<Lane, Promise<unknown>>();
  const durable = new WeakMap<Lane, Promise<unknown>>();
  const commitGathered = gatheredCommits(commit);

  const deliver = (range: OffsetRange, { gate, partition, records, lane }: RangeInHand<P>) => {
    // A failed previous range fails this one too, before it reaches the sink.
    const take = Promise.all([gate.run(records), taken.get(lane)]).then(([gated]) => {
      lane.check();
      return sink.take(dedupToken(topic, partition, range), gated);
    });
    taken.set(lane, take);
    const made = Promise.all([take.then((t) => t.durable), durable.get(lane)]).then(([newest]) => newest);
    durable.set(lane, made);
    const committed = made.then(async (newest) => {
      await commitGathered(lane, partition, range.last + 1);
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
