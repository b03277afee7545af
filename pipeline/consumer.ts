// A gated consumer of the events topic, shared by the speed layer (sink: ClickHouse) and the lake
// writer (sink: Parquet + Delta log): a consumer group, one PartitionWorker per assigned partition
// (see partition.ts for the exactly-once protocol), offsets committed only by the workers. A batch
// handler returns once its ranges are gated and handed over, so kafkajs fetches the next round
// while they are in the sink; each worker holds at most `maxInFlight` ranges and fetches are
// bounded, so memory stays bounded: Kafka is not read faster than the sink takes it.
//
// Ranges outlive the batch handler that handed them over, so kafkajs may rejoin the group while
// some are in the sink. Each worker's ranges commit only while its lane holds (delivery.ts), and
// every lane ends before kafkajs rejoins (REBALANCING, CRASH) or at the latest when it has joined
// (GROUP_JOIN, before any new worker reads Kafka's positions): a range revoked mid-insert is left
// announced, and its next owner finishes it under the same token.
import type {
  Admin,
  Consumer,
  EachBatchPayload,
  Kafka,
  OffsetsByTopicPartition,
  PartitionOffset,
} from '../kafka/index.ts';
import { checkGroupServes, fetchedRecords, rerunAfterCrash } from '../kafka/index.ts';
import { DEFAULT_ALLOWED_LATENESS_MINUTES } from '../quality/index.ts';
import { deferredDelivery } from './deferred-delivery.ts';
import { type Delivery, groupDelivery, Lane, type PartitionCommit, rangeDelivery } from './delivery.ts';
import type { Gates } from './gates.ts';
import { fetchPositions, lagOf } from './lag.ts';
import { parsePending } from './offset-range.ts';
import { heartbeating, type PartitionStart, PartitionWorker } from './partition.ts';
import type {
  ConsumerMetrics,
  DeferredSink,
  GroupSink,
  PartitionQuarantine,
  QuarantineTransactions,
  Sink,
} from './sink.ts';
import { EventTimeWatermark } from './watermark.ts';

export interface GatedConsumerOptions<P> {
  kafka: Kafka;
  topic: string;
  /**
   * Where each partition's gate runs (localGates, threadedGates) and what it prepares for the
   * sink; the consumer closes them when it stops.
   */
  gates: Gates<P>;
  /**
   * Where gated ranges go: a Sink takes one partition's range per insert, a GroupSink the ranges
   * of several partitions (delivery.ts), a DeferredSink ranges it makes durable later, several at a
   * time (deferred-delivery.ts).
   */
  sink: Sink<P> | GroupSink<P> | DeferredSink<P>;
  /**
   * The publisher of the consumer's rejected records, with a DeferredSink (and only with one): the
   * rejections of the ranges each offset commit covers go to quarantine in the transaction that
   * makes that commit (deferred-delivery.ts).
   */
  quarantine?: QuarantineTransactions;
  groupId: string;
  /** Lateness the partitions' watermarks allow (the gate's setting); its default otherwise. */
  allowedLatenessMinutes?: number;
  /** Records per insert at most. */
  maxRecords?: number;
  /**
   * Ranges per partition handed over and not yet committed, at most: 2 lets a partition's next
   * range be gated while the previous one is in the sink.
   */
  maxInFlight?: number;
  /** Bytes fetched per partition and request. */
  maxBytesPerPartition?: number;
  /** Bytes fetched per request, all partitions together: bounds the records held in memory. */
  maxBytes?: number;
  /**
   * How long a fetch may wait for a partition's worth of bytes. Every insert costs ClickHouse a new
   * part in the raw table and in each view's table (~50 ms of CPU in chDB whatever its size), so
   * at low rates waiting a little for larger inserts keeps latency down rather than up.
   */
  lingerMs?: number;
  /**
   * Records before the committed offset re-gated on assignment to rebuild the dedup window. Must
   * exceed the distance of a duplicate from its original (the generator's is 2,000 records).
   */
  dedupLookback?: number;
  partitionsConsumedConcurrently?: number;
  /**
   * How long the broker waits for a silent member before giving its partitions to another: a
   * crashed consumer's partitions stall this long. The broker's floor is
   * group.min.session.timeout.ms (6 s by default).
   */
  sessionTimeoutMs?: number;
  lagIntervalMs?: number;
  metrics?: ConsumerMetrics;
}

export const GATED_CONSUMER_DEFAULTS = {
  maxRecords: 20_000,
  maxInFlight: 2,
  maxBytesPerPartition: 8 * 1024 * 1024,
  maxBytes: 24 * 1024 * 1024,
  lingerMs: 250,
  dedupLookback: 20_000,
  partitionsConsumedConcurrently: 3,
  sessionTimeoutMs: 10_000,
  lagIntervalMs: 2_000,
};

export class GatedConsumer<P> {
  readonly groupId: string;
  private readonly o: GatedConsumerOptions<P> & typeof GATED_CONSUMER_DEFAULTS;
  private readonly consumer: Consumer;
  private readonly admin: Admin;
  private readonly delivery: Delivery<P>;
  /** Workers of the current assignment; rebuilt from Kafka after every rebalance. */
  private workers = new Map<number, WorkerEntry<P>>();
  private readonly watermarks = new Map<number, EventTimeWatermark>();
  private lagTimer: NodeJS.Timeout | undefined;
  private cancelRerun: () => void = () => {};
  private stopping = false;
  private lastLag = new Map<number, number>();
  private deliveredRecords = 0;
  /** Batch handlers running now: a stop waits for their hand-overs. */
  private readonly handling = new Set<Promise<void>>();
  /** Workers of earlier assignments whose ranges may still be in the sink. */
  private retiring: Promise<unknown> = Promise.resolve();
  /** Dropped workers closing (their ranges settling, their quarantine producers disconnecting). */
  private readonly closing = new Set<Promise<unknown>>();
  /** The running consumer's commit (kafkajs makes a new one for each run). */
  private commitOffsets: ((offsets: OffsetsByTopicPartition) => Promise<void>) | undefined;

  constructor(options: GatedConsumerOptions<P>) {
    this.o = { ...GATED_CONSUMER_DEFAULTS, ...stripUndefined(options) };
    this.groupId = this.o.groupId;
    this.consumer = this.o.kafka.consumer({
      groupId: this.groupId,
      maxBytesPerPartition: this.o.maxBytesPerPartition,
      maxBytes: this.o.maxBytes,
      minBytes: this.o.maxBytesPerPartition,
      maxWaitTimeInMs: this.o.lingerMs,
      sessionTimeout: this.o.sessionTimeoutMs,
    });
    this.admin = this.o.kafka.admin();
    const { sink, topic } = this.o;
    const commit = (commits: readonly PartitionCommit[]) => this.commit(commits);
    const deferred = typeof sink !== 'function' && 'take' in sink;
    if (deferred !== (this.o.quarantine !== undefined))
      throw new Error(
        'a deferred sink and quarantine transactions go together: the transactions commit its offsets with the rejections',
      );
    this.delivery =
      typeof sink === 'function'
        ? rangeDelivery(topic, sink, commit)
        : 'take' in sink
          ? deferredDelivery(topic, sink)
          : groupDelivery(topic, sink, commit);
    this.o.metrics?.trackWatermarks(this.watermarks);
  }

  async start(): Promise<void> {
    await this.admin.connect();
    try {
      await checkGroupServes(this.admin, this.groupId, this.o.topic);
    } catch (error) {
      await this.admin.disconnect();
      throw error;
    }
    await this.consumer.connect();
    // Before kafkajs rejoins after a rebalance or a crash; GROUP_JOIN covers the other ways in.
    this.consumer.on(this.consumer.events.REBALANCING, () => this.retireWorkers('the group is rebalancing'));
    this.consumer.on(this.consumer.events.CRASH, () => this.retireWorkers('the consumer crashed'));
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      // The previous owner of a partition may have moved it on: every worker starts over from Kafka.
      this.retireWorkers('the consumer rejoined the group');
      const assigned = new Set(payload.memberAssignment[this.o.topic] ?? []);
      for (const partition of this.watermarks.keys())
        if (!assigned.has(partition)) this.watermarks.delete(partition);
    });
    // A rerun rejoins the group, and every worker starts over from Kafka (GROUP_JOIN above).
    this.cancelRerun = rerunAfterCrash(
      this.consumer,
      () => this.run(),
      () => !this.stopping,
    );
    await this.consumer.subscribe({ topic: this.o.topic, fromBeginning: true });
    await this.run();
    this.scheduleLagRefresh();
  }

  /** Stops fetching, lets the ranges in hand finish and commit, leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.lagTimer);
    this.cancelRerun();
    try {
      this.consumer.pause([{ topic: this.o.topic }]);
    } catch {
      // Not running (it crashed or never started): nothing is fetched anyway.
    }
    await Promise.all(this.handling);
    await Promise.all([...this.workers.values()].map(settledOf));
    for (const worker of this.workers.values()) this.closeWorker(worker, new Error('the consumer stopped'));
    await Promise.all(this.closing);
    await this.consumer.disconnect();
    await this.admin.disconnect();
    await this.o.gates.close();
  }

  /** Records delivered into ClickHouse by this process (replayed ranges included). */
  get delivered(): number {
    return this.deliveredRecords;
  }

  /** Lag per partition from the broker, now. */
  async refreshLag(): Promise<ReadonlyMap<number, number>> {
    const positions = await fetchPositions(this.admin, this.groupId, this.o.topic);
    this.lastLag = new Map(positions.map((p) => [p.partition, lagOf(p)]));
    for (const [partition, lag] of this.lastLag) this.o.metrics?.observeLag(partition, lag);
    return this.lastLag;
  }

  /** Runs the consumer; kafkajs reports a failure to start through the CRASH event, not here. */
  private run(): Promise<void> {
    return this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.o.partitionsConsumedConcurrently,
      eachBatch: (payload) => this.eachBatch(payload),
    });
  }

  /** One refresh at a time: while the broker is away a refresh waits out the client's retries. */
  private scheduleLagRefresh(): void {
    this.lagTimer = setTimeout(() => {
      void this.refreshLag()
        .catch(() => undefined)
        .finally(() => {
          if (!this.stopping) this.scheduleLagRefresh();
        });
    }, this.o.lagIntervalMs);
  }

  /** Lag per partition as of the last refresh (every lagIntervalMs). */
  get lag(): ReadonlyMap<number, number> {
    return this.lastLag;
  }

  get eventTimeWatermarks(): ReadonlyMap<number, EventTimeWatermark> {
    return this.watermarks;
  }

  /** Commits through the running consumer; the caller has checked that the ranges' lanes hold. */
  private commit(commits: readonly PartitionCommit[]): Promise<void> {
    if (!this.commitOffsets) return Promise.reject(new Error('the consumer is not running'));
    return this.commitOffsets({
      topics: [
        {
          topic: this.o.topic,
          partitions: commits.map(
            (c) =>
              ({ partition: c.partition, offset: String(c.offset), metadata: c.metadata }) as PartitionOffset,
          ),
        },
      ],
    });
  }

  /** Ends every worker: none of their ranges is committed from now on; new workers start from Kafka. */
  private retireWorkers(why: string): void {
    const retired = [...this.workers.values()];
    this.workers = new Map();
    if (retired.length === 0) return;
    const reason = new Error(`partition revoked: ${why}`);
    for (const worker of retired) this.closeWorker(worker, reason);
    this.retiring = Promise.all([this.retiring, ...retired.map(settledOf)]);
    const { sink } = this.o;
    if (typeof sink !== 'function' && 'flush' in sink) void sink.flush().catch(noop);
  }

  private eachBatch(payload: EachBatchPayload): Promise<void> {
    const handling = this.handleBatch(payload);
    const tracked = handling.then(noop, noop);
    this.handling.add(tracked);
    void tracked.finally(() => this.handling.delete(tracked));
    return handling;
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    const firstOffset = batch.firstOffset();
    if (firstOffset === null || !isRunning() || isStale() || this.stopping) return;
    this.commitOffsets = payload.commitOffsetsIfNecessary;
    let worker = this.workers.get(partition);
    if (!worker) {
      const lane = new Lane();
      worker = { lane, ready: this.createWorker(partition, lane) };
      this.workers.set(partition, worker);
    }
    try {
      // A new worker waits for the ranges its partitions' earlier workers handed over.
      const ready = await heartbeating(worker.ready, payload);
      const rewindTo = ready.rewindTo(Number(firstOffset));
      if (rewindTo !== undefined) {
        this.consumer.seek({ topic, partition, offset: String(rewindTo) });
        return;
      }
      await ready.handle(fetchedRecords(batch), {
        resolveOffset: payload.resolveOffset,
        heartbeat: payload.heartbeat,
        proceed: () => isRunning() && !isStale() && !this.stopping,
      });
    } catch (err) {
      // The worker's gate may have seen records that were not committed: rebuild it from Kafka.
      // kafkajs retries after a pause, and the next worker starts from the committed offset.
      if (this.workers.get(partition) === worker) this.workers.delete(partition);
      this.closeWorker(worker, err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  /**
   * A range handed over failed after its batch handler returned. The worker's lane has ended; the
   * next batch of the partition replaces it (and fails, so kafkajs pauses before retrying). The
   * seek makes that batch come even when nothing new arrives.
   */
  private failed(partition: number, worker: PartitionWorker<P>, first: number, error: Error): void {
    this.consumer.logger().error('a range failed in the sink; the partition starts over from Kafka', {
      topic: this.o.topic,
      partition,
      offset: first,
      error: error.message,
    });
    if (this.stopping) return;
    void this.workers.get(partition)?.ready.then((current) => {
      if (current !== worker || this.stopping) return;
      try {
        this.consumer.seek({ topic: this.o.topic, partition, offset: String(first) });
      } catch {
        // The consumer is not running: it starts from the committed offsets when it runs again.
      }
    }, noop);
  }

  /** Ends a dropped worker: its lane now, the rest once it exists (one never made has nothing to close). */
  private closeWorker({ lane, ready }: WorkerEntry<P>, reason: Error): void {
    lane.end(reason);
    const closed = ready.then((worker) => worker.close(reason)).catch(noop);
    this.closing.add(closed);
    void closed.finally(() => this.closing.delete(closed));
  }

  private async createWorker(partition: number, lane: Lane): Promise<PartitionWorker<P>> {
    // Ranges of the previous assignment still in the sink settle first: they no longer commit,
    // and this worker reads what Kafka recorded after them.
    await this.retiring;
    // Before the positions: opening fences the partition's previous publisher and ends its
    // transaction, so the offsets read below include what that transaction committed.
    const quarantine = await this.o.quarantine?.open(partition);
    try {
      return await this.startWorker(partition, lane, quarantine);
    } catch (error) {
      await quarantine?.close().catch(noop);
      throw error;
    }
  }

  private async startWorker(
    partition: number,
    lane: Lane,
    quarantine: PartitionQuarantine | undefined,
  ): Promise<PartitionWorker<P>> {
    const positions = await fetchPositions(this.admin, this.groupId, this.o.topic);
    const position = positions.find((p) => p.partition === partition);
    if (!position) throw new Error(`partition ${partition} of ${this.o.topic} is unknown to the broker`);
    const pending = parsePending(position.metadata);
    const start: PartitionStart = {
      committed: position.committed,
      replayFrom: Math.max(position.low, position.committed - this.o.dedupLookback),
      // A range announced at another offset is stale (the commit after it was lost): ignore it.
      pending: pending?.first === position.committed ? pending : undefined,
    };
    let watermark = this.watermarks.get(partition);
    if (!watermark) {
      const latenessMinutes = this.o.allowedLatenessMinutes ?? DEFAULT_ALLOWED_LATENESS_MINUTES;
      watermark = new EventTimeWatermark(latenessMinutes * 60_000);
      this.watermarks.set(partition, watermark);
    }
    const worker: PartitionWorker<P> = new PartitionWorker({
      partition,
      start,
      lane,
      // One gate per worker: its dedup window is this partition's alone and starts empty. Sized to
      // the lookback, so a running gate and one rebuilt after a crash reach back alike.
      gate: this.o.gates.open(partition, this.o.dedupLookback),
      quarantine,
      delivery: this.delivery,
      watermark,
      maxRecords: this.o.maxRecords,
      maxInFlight: this.o.maxInFlight,
      onDelivered: (records) => {
        this.deliveredRecords += records;
      },
      onFailed: (range, error) => this.failed(partition, worker, range.first, error),
    });
    return worker;
  }
}

const noop = () => undefined;

/** A partition's worker, made asynchronously (it reads Kafka's positions), and its lane, at once. */
interface WorkerEntry<P> {
  lane: Lane;
  ready: Promise<PartitionWorker<P>>;
}

/** Resolves once the worker's ranges in the sink are committed or failed. */
const settledOf = <P>({ ready }: WorkerEntry<P>): Promise<void> => ready.then((w) => w.settled(), noop);

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
