// The delivery protocols as pure units: gates and sinks are stand-ins whose answers the test
// releases by hand, and commits are recorded, so the order of announcements, inserts and commits
// of pipelined ranges can be checked step by step.
import { describe, expect, it } from 'vitest';
import {
  type DeferredSink,
  type Delivery,
  deferredDelivery,
  type GatedRange,
  type GroupFill,
  type GroupMember,
  type GroupSink,
  groupDelivery,
  Lane,
  type PartitionCommit,
  type PartitionGate,
  type PartitionQuarantine,
  parsePending,
  rangeDelivery,
} from '../pipeline/index.ts';
import type { BatchReport, RawMessage, RejectedRecord } from '../quality/index.ts';

type Rows = number[];

const report: BatchReport = {
  kind: 'batch',
  at: 0,
  arrival: null,
  in: 0,
  accepted: 0,
  rejected: 0,
  duplicates: 0,
  late: 0,
  warned: 0,
  byRule: {},
  byEventType: {},
  badShare: 0,
};

const records = (partition: number, first: number, last: number): RawMessage[] =>
  Array.from({ length: last - first + 1 }, (_, i) => ({
    topic: 't',
    partition,
    offset: String(first + i),
    key: null,
    value: null,
    timestamp: 0,
  }));

/** Hands offsets first..last of `partition` to `delivery` through `gate`, on `lane`. */
const handOver = (
  delivery: Delivery<Rows>,
  gate: PartitionGate<Rows>,
  partition: number,
  lane: Lane,
  first: number,
  last: number,
) => delivery.live({ first, last }, { gate, partition, records: records(partition, first, last), lane });

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A gate whose answers the test releases in order; each answer's rows are the records' offsets. */
function manualGate() {
  const waiting: { records: readonly RawMessage[]; answer: ReturnType<typeof deferred<GatedRange<Rows>>> }[] =
    [];
  const gate: PartitionGate<Rows> = {
    replay: async () => undefined,
    run(batch) {
      const answer = deferred<GatedRange<Rows>>();
      waiting.push({ records: batch, answer });
      return answer.promise;
    },
    close: () => undefined,
  };
  return {
    gate,
    get waiting() {
      return waiting.length;
    },
    /** Answers the oldest open request. */
    release() {
      const next = waiting.shift();
      if (!next) throw new Error('no gate request is open');
      next.answer.resolve({
        accepted: next.records.map((r) => Number(r.offset)),
        rejected: [],
        refused: [],
        report,
      });
    },
    fail(error: Error) {
      waiting.shift()?.answer.reject(error);
    },
  };
}

/** Everything in the order it happened: commits (announce/clear) and inserts. */
function journal() {
  const log: string[] = [];
  const commit = async (commits: readonly PartitionCommit[]) => {
    for (const c of commits)
      log.push(
        `${c.metadata ? 'announce' : 'commit'} p${c.partition}@${c.offset}${c.metadata ? ` ${JSON.stringify(parsePending(c.metadata))}` : ''}`,
      );
  };
  return { log, commit };
}

/** A group sink whose inserts the test releases; it records each group's members and rows. */
function manualGroupSink(log: string[]) {
  const inserts: ReturnType<typeof deferred<void>>[] = [];
  const sink: GroupSink<Rows> = {
    async stage(_token, members: readonly GroupMember<Rows>[]) {
      return {
        async deliver() {
          log.push(
            `insert ${members.map((m) => `p${m.partition}:${m.range.first}-${m.range.last}=${m.gated.flatMap((g) => g.accepted).join(',')}`).join(' ')}`,
          );
          const done = deferred<void>();
          inserts.push(done);
          await done.promise;
          return members.map(() => undefined);
        },
        release: async () => undefined,
      };
    },
    redeliver: async () => undefined,
  };
  return {
    sink,
    get inserting() {
      return inserts.length;
    },
    finish() {
      inserts.shift()?.resolve();
    },
    fail(error: Error) {
      inserts.shift()?.reject(error);
    },
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

/** A group delivery with the given fill rules into a hand-released sink, and its journal. */
function grouped(fill: GroupFill) {
  const { log, commit } = journal();
  const sink = manualGroupSink(log);
  return { log, sink, delivery: groupDelivery('t', sink.sink, commit, fill) };
}

describe('group delivery', () => {
  it('waits for ranges in their gates, merges a lane’s ranges into one member and commits after the insert', async () => {
    const { log, sink, delivery } = grouped({ records: 1_000, waitMs: 60_000 });
    const a = manualGate();
    const b = manualGate();
    const laneA = new Lane();
    const laneB = new Lane();

    const a1 = await handOver(delivery, a.gate, 0, laneA, 0, 1);
    const a2 = await handOver(delivery, a.gate, 0, laneA, 2, 3);
    const b1 = await handOver(delivery, b.gate, 1, laneB, 10, 11);
    a.release();
    a.release();
    await settle();
    // b1 is still in its gate: the group waits for it.
    expect(log).toEqual([]);
    b.release();
    await settle();
    expect(log).toEqual([
      'announce p0@0 {"first":0,"last":3,"group":"t:0:0-3,1:10-11"}',
      'announce p1@10 {"first":10,"last":11,"group":"t:0:0-3,1:10-11"}',
      'insert p0:0-3=0,1,2,3 p1:10-11=10,11',
    ]);
    sink.finish();
    await Promise.all([a1.committed, a2.committed, b1.committed]);
    expect(log.slice(3)).toEqual(['commit p0@4', 'commit p1@12']);
  });

  it('goes without the ranges still in their gates once it holds enough records', async () => {
    const { log, sink, delivery } = grouped({ records: 4, waitMs: 60_000 });
    const a = manualGate();
    const b = manualGate();
    const first = await handOver(delivery, a.gate, 0, new Lane(), 0, 4);
    await handOver(delivery, b.gate, 1, new Lane(), 0, 0);
    a.release();
    await settle();
    expect(log.at(-1)).toBe('insert p0:0-4=0,1,2,3,4');
    sink.finish();
    await first.committed;
    expect(b.waiting).toBe(1);
  });

  it('goes without them once its oldest range has waited long enough', async () => {
    const { log, sink, delivery } = grouped({ records: 1_000, waitMs: 30 });
    const a = manualGate();
    const b = manualGate();
    await handOver(delivery, a.gate, 0, new Lane(), 0, 0);
    await handOver(delivery, b.gate, 1, new Lane(), 0, 0);
    a.release();
    await settle();
    expect(log).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(log.at(-1)).toBe('insert p0:0-0=0');
    sink.finish();
  });

  it('neither announces nor commits the ranges of a lane that ended, and leaves a revoked insert announced', async () => {
    const { log, sink, delivery } = grouped({ records: 1, waitMs: 60_000 });
    const a = manualGate();
    const lane = new Lane();
    const inserted = await handOver(delivery, a.gate, 0, lane, 0, 0);
    const queued = await handOver(delivery, a.gate, 0, lane, 1, 1);
    a.release();
    await settle();
    expect(sink.inserting).toBe(1);
    a.release();
    await settle();
    // The partition is revoked while its first range is in the sink.
    lane.end(new Error('revoked'));
    sink.finish();
    await expect(inserted.committed).rejects.toThrow('revoked');
    await expect(queued.committed).rejects.toThrow('revoked');
    expect(log).toEqual(['announce p0@0 {"first":0,"last":0,"group":"t:0:0-0"}', 'insert p0:0-0=0']);
  });

  it('ends the lanes of a failed group, drops their later ranges and goes on with the others', async () => {
    const { log, sink, delivery } = grouped({ records: 1, waitMs: 60_000 });
    const a = manualGate();
    const b = manualGate();
    const laneA = new Lane();
    const laneB = new Lane();
    const failing = await handOver(delivery, a.gate, 0, laneA, 0, 0);
    const later = await handOver(delivery, a.gate, 0, laneA, 1, 1);
    a.release();
    await settle();
    const other = await handOver(delivery, b.gate, 1, laneB, 5, 5);
    a.release();
    b.release();
    await settle();
    sink.fail(new Error('insert failed'));
    await expect(failing.committed).rejects.toThrow('insert failed');
    await expect(later.committed).rejects.toThrow('insert failed');
    expect(laneA.ended?.message).toBe('insert failed');
    await settle();
    sink.finish();
    await other.committed;
    expect(laneB.ended).toBeUndefined();
    expect(log.filter((line) => line.startsWith('insert'))).toEqual(['insert p0:0-0=0', 'insert p1:5-5=5']);
    expect(log).not.toContain('commit p0@1');
    expect(log).not.toContain('commit p0@2');
  });

  it('fails the ranges behind one whose gate failed, without inserting them', async () => {
    const { log, delivery } = grouped({ records: 1, waitMs: 60_000 });
    const a = manualGate();
    const lane = new Lane();
    const first = await handOver(delivery, a.gate, 0, lane, 0, 0);
    const second = await handOver(delivery, a.gate, 0, lane, 1, 1);
    a.fail(new Error('gate thread died'));
    a.release();
    await expect(first.committed).rejects.toThrow('gate thread died');
    await expect(second.committed).rejects.toThrow('gate thread died');
    expect(log).toEqual([]);
  });
});

describe('range delivery', () => {
  it('gates ahead, but announces, inserts and commits a lane’s ranges one after another', async () => {
    const { log, commit } = journal();
    const inserts: ReturnType<typeof deferred<void>>[] = [];
    const delivery = rangeDelivery<Rows>(
      't',
      async (token, range) => {
        log.push(`insert ${token}=${range.accepted.join(',')}`);
        const done = deferred<void>();
        inserts.push(done);
        await done.promise;
        return undefined;
      },
      commit,
    );
    const a = manualGate();
    const lane = new Lane();
    const r1 = await handOver(delivery, a.gate, 0, lane, 0, 1);
    const r2 = await handOver(delivery, a.gate, 0, lane, 2, 2);
    expect(a.waiting).toBe(2);
    a.release();
    a.release();
    await settle();
    expect(log).toEqual(['announce p0@0 {"first":0,"last":1}', 'insert t:0:0-1=0,1']);
    inserts.shift()?.resolve();
    await r1.committed;
    await settle();
    expect(log.slice(2)).toEqual(['commit p0@2', 'announce p0@2 {"first":2,"last":2}', 'insert t:0:2-2=2']);
    lane.end(new Error('revoked'));
    inserts.shift()?.resolve();
    await expect(r2.committed).rejects.toThrow('revoked');
    expect(log).toHaveLength(5);
  });

  it('fails a lane’s later ranges when one fails, before they reach the sink', async () => {
    const { log, commit } = journal();
    const delivery = rangeDelivery<Rows>(
      't',
      async (token) => {
        log.push(`insert ${token}`);
        throw new Error('sink down');
      },
      commit,
    );
    const a = manualGate();
    const lane = new Lane();
    const r1 = await handOver(delivery, a.gate, 0, lane, 0, 0);
    const r2 = await handOver(delivery, a.gate, 0, lane, 1, 1);
    a.release();
    a.release();
    await expect(r1.committed).rejects.toThrow('sink down');
    await expect(r2.committed).rejects.toThrow('sink down');
    expect(log).toEqual(['announce p0@0 {"first":0,"last":0}', 'insert t:0:0-0']);
  });
});

describe('deferred delivery', () => {
  const rejection = (offset: number, ruleId: string): RejectedRecord => ({
    source: records(0, offset, offset)[0] as RawMessage,
    failures: [{ ruleId, severity: 'quarantine', message: 'm' }],
    rejectedAt: 0,
  });

  /**
   * A deferred sink that takes ranges at once and makes them durable when the test commits (as one
   * lake commit does); it refuses the records at offsets `refuse` holds.
   */
  function manualDeferredSink(log: string[], refuse: ReadonlySet<number> = new Set()) {
    let commit = deferred<void>();
    const sink: DeferredSink<Rows> = {
      async flush() {
        log.push('flush');
      },
      async take(token, range) {
        log.push(`take ${token}`);
        const durable = commit.promise.then(() => Math.max(...range.accepted));
        return {
          durable,
          refused: range.accepted.filter((o) => refuse.has(o)).map((o) => rejection(o, 'sink')),
        };
      },
    };
    return {
      sink,
      /** Makes every range taken so far durable, in one commit. */
      commit() {
        commit.resolve();
        commit = deferred<void>();
      },
      fail(error: Error) {
        commit.reject(error);
        commit = deferred<void>();
      },
    };
  }

  /** A partition's quarantine producer whose transactions the test releases; each is logged once committed. */
  function manualQuarantine(log: string[]) {
    const open: ReturnType<typeof deferred<void>>[] = [];
    const quarantine: PartitionQuarantine = {
      async commit(offset, published, lane) {
        const done = deferred<void>();
        open.push(done);
        await done.promise;
        lane.check();
        log.push(
          `transaction @${offset} ${published.map((r) => `${r.source.offset}:${r.failures[0]?.ruleId}`).join(' ')}`,
        );
      },
      close: async () => undefined,
    };
    return {
      quarantine,
      get open() {
        return open.length;
      },
      finish() {
        open.shift()?.resolve();
      },
      fail(error: Error) {
        open.shift()?.reject(error);
      },
    };
  }

  /** A gate that accepts the even offsets and rejects the odd ones, and whose preparer refuses offsets divisible by 5. */
  const judgingGate: PartitionGate<Rows> = {
    replay: async () => undefined,
    run: async (batch) => {
      const offsets = batch.map((r) => Number(r.offset));
      return {
        accepted: offsets.filter((o) => o % 2 === 0 && o % 5 !== 0),
        rejected: offsets.filter((o) => o % 2 === 1).map((o) => rejection(o, 'gate')),
        refused: offsets.filter((o) => o % 2 === 0 && o % 5 === 0).map((o) => rejection(o, 'prepare')),
        report,
      };
    },
    close: () => undefined,
  };

  function setUp(refuse?: ReadonlySet<number>) {
    const log: string[] = [];
    const sink = manualDeferredSink(log, refuse);
    const quarantine = manualQuarantine(log);
    const lane = new Lane();
    const delivery = deferredDelivery('t', sink.sink);
    const hand = (first: number, last: number) =>
      delivery.live(
        { first, last },
        {
          gate: judgingGate,
          partition: 0,
          records: records(0, first, last),
          lane,
          quarantine: quarantine.quarantine,
        },
      );
    return { log, sink, quarantine, lane, delivery, hand };
  }

  it('takes ranges without waiting for commits and commits those made durable together in one transaction with their rejections', async () => {
    const { log, sink, quarantine, hand } = setUp(new Set([4]));
    const r1 = await hand(0, 4);
    const r2 = await hand(5, 9);
    await r1.released;
    await r2.released;
    expect(log).toEqual(['take t:0:0-4', 'take t:0:5-9']);
    sink.commit();
    await settle();
    expect(quarantine.open).toBe(1);
    quarantine.finish();
    expect(await r1.committed).toBe(4);
    expect(await r2.committed).toBe(8);
    expect(log.slice(2)).toEqual(['transaction @10 0:prepare 1:gate 3:gate 4:sink 5:gate 7:gate 9:gate']);
  });

  it('runs one transaction at a time: ranges made durable meanwhile go into the next', async () => {
    const { log, sink, quarantine, hand } = setUp();
    const r1 = await hand(0, 1);
    await r1.released;
    sink.commit();
    await settle();
    expect(quarantine.open).toBe(1);
    const r2 = await hand(2, 3);
    const r3 = await hand(4, 5);
    await r3.released;
    sink.commit();
    await settle();
    expect(quarantine.open).toBe(1);
    quarantine.finish();
    await r1.committed;
    await settle();
    expect(quarantine.open).toBe(1);
    quarantine.finish();
    await Promise.all([r2.committed, r3.committed]);
    expect(log.filter((l) => l.startsWith('transaction'))).toEqual([
      'transaction @2 0:prepare 1:gate',
      'transaction @6 3:gate 5:gate',
    ]);
  });

  it('ends the lane when a transaction fails: no later transaction commits offsets past its rejections', async () => {
    const { log, sink, quarantine, lane, hand } = setUp();
    const r1 = await hand(0, 1);
    await r1.released;
    sink.commit();
    await settle();
    const r2 = await hand(2, 3);
    await r2.released;
    sink.commit();
    await settle();
    quarantine.fail(new Error('fenced'));
    await expect(r1.committed).rejects.toThrow('fenced');
    await expect(r2.committed).rejects.toThrow('fenced');
    expect(lane.ended?.message).toBe('fenced');
    expect(quarantine.open).toBe(0);
    expect(log.filter((l) => l.startsWith('transaction'))).toEqual([]);
  });

  it('commits nothing of a revoked lane, nor past a range that failed to become durable', async () => {
    const revoked = setUp();
    const r1 = await revoked.hand(0, 1);
    await r1.released;
    revoked.lane.end(new Error('revoked'));
    revoked.sink.commit();
    await expect(r1.committed).rejects.toThrow('revoked');
    expect(revoked.quarantine.open).toBe(0);

    const failing = setUp();
    const f1 = await failing.hand(0, 1);
    await f1.released;
    failing.sink.fail(new Error('commit conflict'));
    const f2 = await failing.hand(2, 3);
    await f2.released;
    failing.sink.commit();
    await expect(f1.committed).rejects.toThrow('commit conflict');
    await expect(f2.committed).rejects.toThrow('commit conflict');
    expect(failing.quarantine.open).toBe(0);
  });
});
