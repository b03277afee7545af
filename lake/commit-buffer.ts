// The lake writer's commit policy: source ranges are staged as they come (lake/staging.ts) and
// committed together once the staged data reaches a size or its oldest range an age, whichever
// comes first, in one Delta version with one txn per source partition. Exactly once: each range
// registers its partition's resume point (txn version) before it is staged, so the commit that
// holds its rows records it; `held` says where a partition's next new record starts (what the
// lake and the batches on their way hold) and when that is all in the lake, and a commit refuses
// to land if another writer recorded progress for one of its partitions meanwhile
// (TxnConflictError): its ranges then fail and their partitions start over from Kafka. The Kafka
// offsets of a range are committed only after the commit that holds it
// (pipeline/deferred-delivery.ts).

import type { Staging } from './staging.ts';
import type { LakeTable, Stage } from './table.ts';

export interface CommitPolicy {
  /** Commit once the staged Parquet reaches this many bytes. */
  maxBytes: number;
  /** Commit once the oldest staged range has waited this long. */
  maxAgeMs: number;
}

interface Batch {
  staging: Staging;
  /** Resume point per appId that this batch's commit records. */
  txns: Map<string, number>;
  /** Per appId, what the table must still record when this batch commits (see table.commitStaging). */
  expected: Map<string, number | undefined>;
  waiters: { resolve(): void; reject(error: unknown): void }[];
  /** Settles with the batch's commit. */
  committed: Promise<void>;
  settle: { resolve(): void; reject(error: unknown): void };
  timer?: NodeJS.Timeout;
}

export class CommitBuffer {
  private batch: Batch;
  /** Batches whose commit has been asked for and has not settled, oldest first. */
  private committing: Batch[] = [];
  private draining = false;
  private commits: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly table: LakeTable,
    private readonly policy: CommitPolicy,
  ) {
    this.batch = this.fresh();
  }

  /**
   * `from`: the first source position of `appId` neither in the lake nor on its way there; records
   * below it must not be staged again (after a crash or a rebalance, Kafka's committed offset may lie
   * behind it). `durable` settles once what lies below it is in the lake: a range found held by a
   * batch still on its way (staged by a partition's earlier owner in this process) is durable only
   * with that batch's commit, and fails with it.
   */
  async held(appId: string): Promise<{ from: number; durable: Promise<void> }> {
    const inLake = (await this.table.txnVersion(appId)) ?? 0;
    const holding = [...this.committing, this.batch].filter((b) => b.txns.has(appId));
    const newest = holding.at(-1);
    return {
      from: Math.max(inLake, ...holding.map((b) => b.txns.get(appId) ?? 0)),
      durable: newest ? newest.committed : Promise.resolve(),
    };
  }

  /**
   * The version of `appId` the table will have recorded when the current batch commits: that of the
   * newest batch committing before it that holds `appId`. (That batch holds its final range of
   * `appId` by now: a partition's ranges are staged one after the other.)
   */
  private recordedBefore(appId: string): number | undefined {
    return this.committing.findLast((b) => b.txns.has(appId))?.txns.get(appId);
  }

  /**
   * Stages `stage` (the records of `appId` from `held(appId).from` up to `version`, exclusive;
   * undefined when none is to be written) and records `version` as its resume point in the next
   * commit. Resolves once staged, with a promise of that commit. A stage that fails leaves the
   * batch as it was.
   */
  async add(appId: string, version: number, stage: Stage | undefined): Promise<{ durable: Promise<void> }> {
    const inLake = await this.table.txnVersion(appId);
    // No await from here until the stage is in the table's queue: a commit of this batch is queued
    // after it, and the range's txn is registered (by `staged`) before that commit starts, so its
    // rows and its resume point go into the same version. A stage that fails registers nothing.
    const batch = this.batch;
    if (!batch.expected.has(appId)) batch.expected.set(appId, this.recordedBefore(appId) ?? inLake);
    let settle: Batch['waiters'][number] = { resolve() {}, reject() {} };
    const durable = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    const staged = () => {
      batch.txns.set(appId, version);
      batch.waiters.push(settle);
    };
    batch.timer ??= setTimeout(() => void this.commit(batch), this.policy.maxAgeMs);
    if (stage) await this.table.stage(batch.staging, stage, staged);
    else staged();
    if (this.draining || batch.staging.bytes >= this.policy.maxBytes) void this.commit(batch);
    return { durable };
  }

  /**
   * Commits what is staged now, without waiting for its age: ranges of revoked partitions are then
   * durable soon, and the partitions' next owners, who wait for them, need not wait out the age.
   */
  commitNow(): Promise<void> {
    return this.batch.txns.size === 0 ? this.commits.then(() => undefined) : this.commit(this.batch);
  }

  /** Commits what is staged now, and each range staged from now on at once (the writer stops). */
  drain(): Promise<void> {
    this.draining = true;
    return this.commit(this.batch);
  }

  /** Commits `batch` unless it already went; the next ranges go into a new one meanwhile. */
  private commit(batch: Batch): Promise<void> {
    if (batch !== this.batch) return this.commits.then(() => undefined);
    clearTimeout(batch.timer);
    this.batch = this.fresh();
    this.committing.push(batch);
    // Once settled, the lake's txn says what it holds. A failed commit leaves the batches after it
    // expecting its versions: they fail in turn (TxnConflictError), and their partitions start
    // over from what Kafka and the lake say.
    const settled = () => {
      this.committing = this.committing.filter((b) => b !== batch);
    };
    // Ranges staged before this commit starts (in the table's queue) are registered by then.
    const txn = () => [...batch.txns].map(([appId, version]) => ({ appId, version }));
    const done = this.table.commitStaging(batch.staging, txn, batch.expected).then(
      () => {
        settled();
        batch.settle.resolve();
        for (const w of batch.waiters) w.resolve();
      },
      async (error: unknown) => {
        settled();
        batch.settle.reject(error);
        for (const w of batch.waiters) w.reject(error);
        await batch.staging.drop().catch(() => undefined);
      },
    );
    this.commits = this.commits.then(() => done);
    return done;
  }

  private fresh(): Batch {
    let settle: Batch['settle'] = { resolve() {}, reject() {} };
    const committed = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    // Awaited only when a range is found held by this batch.
    committed.catch(() => undefined);
    return {
      staging: this.table.newStaging(),
      txns: new Map(),
      expected: new Map(),
      waiters: [],
      committed,
      settle,
    };
  }
}
