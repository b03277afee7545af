// A gated consumer of the events topic, shared by the speed layer (sink: ClickHouse) and the lake
// writer (sink: Parquet + Delta log): a consumer group, one PartitionWorker per assigned partition
// (see partition.ts for the exactly-once protocol), offsets committed only by the workers. Fetches
// are bounded per partition and processed one at a time per partition, so memory stays bounded:
// Kafka is not read faster than the sink takes it.
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage, PartitionOffset } from 'kafkajs';
import { rerunAfterCrash } from '../kafka/index.ts';
import { DEFAULT_ALLOWED_LATENESS_MINUTES, type RawMessage } from '../quality/index.ts';
import { type Delivery, groupDelivery, rangeDelivery } from './delivery.ts';
import type { Gates } from './gates.ts';
import { fetchPositions, lagOf } from './lag.ts';
import { parsePending } from './offset-range.ts';
import { type PartitionStart, PartitionWorker } from './partition.ts';
import type { ConsumerMetrics, GroupSink, Sink } from './sink.ts';
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
   * of several partitions (delivery.ts).
   */
  sink: Sink<P> | GroupSink<P>;
  groupId: string;
  /** Lateness the partitions' watermarks allow (the gate's setting); its default otherwise. */
  allowedLatenessMinutes?: number;
  /** Records per insert at most. */
  maxRecords?: number;
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
  maxBytesPerPartition: 8 * 1024 * 1024,
  maxBytes: 24 * 1024 * 1024,
  lingerMs: 250,
  dedupLookback: 20_000,
  partitionsConsumedConcurrently: 3,
  sessionTimeoutMs: 10_000,
  lagIntervalMs: 2_000,
};

function toRawMessage(topic: string, partition: number, message: KafkaMessage): RawMessage {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key,
    value: message.value,
    timestamp: Number(message.timestamp),
  };
}

export class GatedConsumer<P> {
  readonly groupId: string;
  private readonly o: GatedConsumerOptions<P> & typeof GATED_CONSUMER_DEFAULTS;
  private readonly consumer: Consumer;
  private readonly admin: Admin;
  private readonly delivery: Delivery<P>;
  /** Workers of the current assignment; rebuilt from Kafka after every rebalance. */
  private workers = new Map<number, Promise<PartitionWorker<P>>>();
  private readonly watermarks = new Map<number, EventTimeWatermark>();
  private lagTimer: NodeJS.Timeout | undefined;
  private cancelRerun: () => void = () => {};
  private stopping = false;
  private lastLag = new Map<number, number>();
  private deliveredRecords = 0;

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
    this.delivery = typeof sink === 'function' ? rangeDelivery(topic, sink) : groupDelivery(topic, sink);
    this.o.metrics?.trackWatermarks(this.watermarks);
  }

  async start(): Promise<void> {
    await this.admin.connect();
    await this.consumer.connect();
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      // The previous owner of a partition may have moved it on: every worker starts over from Kafka.
      for (const worker of this.workers.values()) closeWorker(worker);
      this.workers = new Map();
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

  /** Stops fetching, lets the chunk in hand finish and commit, leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.lagTimer);
    this.cancelRerun();
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

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    const firstOffset = batch.firstOffset();
    if (firstOffset === null || !isRunning() || isStale()) return;
    let worker = this.workers.get(partition);
    if (!worker) {
      worker = this.createWorker(partition);
      this.workers.set(partition, worker);
    }
    try {
      const ready = await worker;
      const rewindTo = ready.rewindTo(Number(firstOffset));
      if (rewindTo !== undefined) {
        this.consumer.seek({ topic, partition, offset: String(rewindTo) });
        return;
      }
      await ready.handle(
        batch.messages.map((m) => toRawMessage(topic, partition, m)),
        {
          commit: (commits) =>
            payload.commitOffsetsIfNecessary({
              topics: [
                {
                  topic,
                  partitions: commits.map(
                    (c) =>
                      ({
                        partition: c.partition,
                        offset: String(c.offset),
                        metadata: c.metadata,
                      }) as PartitionOffset,
                  ),
                },
              ],
            }),
          resolveOffset: payload.resolveOffset,
          heartbeat: payload.heartbeat,
          proceed: () => isRunning() && !isStale(),
        },
      );
    } catch (err) {
      // The worker's gate may have seen records that were not committed: rebuild it from Kafka.
      if (this.workers.get(partition) === worker) this.workers.delete(partition);
      closeWorker(worker);
      throw err;
    }
  }

  private async createWorker(partition: number): Promise<PartitionWorker<P>> {
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
    return new PartitionWorker({
      partition,
      start,
      // One gate per worker: its dedup window is this partition's alone and starts empty. Sized to
      // the lookback, so a running gate and one rebuilt after a crash reach back alike.
      gate: this.o.gates.open(partition, this.o.dedupLookback),
      delivery: this.delivery,
      watermark,
      maxRecords: this.o.maxRecords,
      onDelivered: (records) => {
        this.deliveredRecords += records;
      },
    });
  }
}

/** Frees a dropped worker's gate once it exists (a worker that never got made has none). */
function closeWorker<P>(worker: Promise<PartitionWorker<P>>): void {
  worker.then(
    (ready) => ready.close(),
    () => undefined,
  );
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
