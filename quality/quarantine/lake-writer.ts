// Consumes the quarantine topic into the quarantine lake table, exactly once without a commit log:
// file names record the offsets they hold, files appear atomically in offset order, and the
// consumer offset is committed only after the rename. A restart learns the written offsets from the
// file names and skips what is already there, so a crash between rename and commit neither loses
// nor duplicates a record.

import { type Duck, openDuck } from '../../duckdb/index.ts';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from '../../kafka/index.ts';
import { checkGroupServes, rerunAfterCrash } from '../../kafka/index.ts';
import { parseQuarantineValue } from './message.ts';
import { type PartFile, type StagedMessage, writePartFile } from './part-file.ts';
import { removeInProgress, writtenOffsets } from './table.ts';

export interface QuarantineLakeWriterOptions {
  kafka: Kafka;
  /** The quarantine topic. */
  topic: string;
  /** Directory of the table, `quarantineTableDir(dataDir)`. */
  root: string;
  /** The platform's TIDEWATER_QUARANTINE_GROUP: refused at start when it serves another topic. */
  groupId: string;
}

/**
 * Splits a partition's messages, in offset order, into runs of one day each: a file holds one day
 * and a contiguous offset range, so the written files always cover a prefix of the partition.
 */
function splitByDay(partition: number, messages: readonly StagedMessage[]): PartFile[] {
  const parts: PartFile[] = [];
  let current: PartFile | undefined;
  for (const m of messages) {
    // rejectedAt is UTC (the schema admits no offset), so its date is the partition's day.
    const day = m.rejectedAt.slice(0, 10);
    const offset = BigInt(m.quarantineOffset);
    if (current?.day !== day) {
      current = { partition, day, first: offset, last: offset, messages: [] };
      parts.push(current);
    }
    current.messages.push(m);
    current.last = offset;
  }
  return parts;
}

function stage(partition: number, message: KafkaMessage): StagedMessage {
  try {
    return {
      ...parseQuarantineValue(message.value),
      quarantinePartition: partition,
      quarantineOffset: message.offset,
    };
  } catch (err) {
    throw new Error(`quarantine message at partition ${partition} offset ${message.offset} is malformed`, {
      cause: err,
    });
  }
}

export class QuarantineLakeWriter {
  private readonly kafka: Kafka;
  private readonly topic: string;
  private readonly root: string;
  readonly groupId: string;
  private consumer: Consumer | undefined;
  private duck: Duck | undefined;
  /** Highest offset in the table per partition; undefined until (re)learnt from the file names. */
  private written: Map<number, bigint> | undefined;
  private failure: unknown;
  private cancelRerun: () => void = () => {};

  constructor(opts: QuarantineLakeWriterOptions) {
    this.kafka = opts.kafka;
    this.topic = opts.topic;
    this.root = opts.root;
    this.groupId = opts.groupId;
  }

  async start(): Promise<void> {
    if (this.consumer) return;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await checkGroupServes(admin, this.groupId, this.topic);
    } finally {
      await admin.disconnect();
    }
    await removeInProgress(this.root);
    this.duck = await openDuck();
    this.failure = undefined;
    const consumer = this.kafka.consumer({ groupId: this.groupId, maxWaitTimeInMs: 250 });
    this.consumer = consumer;
    // After a rebalance another member may have written this member's new partitions.
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.written = undefined;
    });
    const run = () =>
      consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: (p) => this.eachBatch(p),
      });
    consumer.on(consumer.events.CRASH, (event) => {
      this.failure ??= event.payload.error;
    });
    // The lake writer publishes in transactions, whose commit markers (and aborted records) the
    // consumer skips without calling eachBatch: a fetch of nothing else would leave the committed
    // offset short of the log's end for good. Everything before such a batch is written already.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.batchSize > 0 || this.consumer !== consumer) return;
      const offset = String(Number(payload.lastOffset) + 1);
      void consumer
        .commitOffsets([{ topic: payload.topic, partition: payload.partition, offset }])
        .catch(() => undefined);
    });
    this.cancelRerun = rerunAfterCrash(consumer, run, () => this.consumer === consumer);
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await run();
  }

  async stop(): Promise<void> {
    const { consumer, duck } = this;
    this.consumer = undefined;
    this.cancelRerun();
    this.duck = undefined;
    try {
      await consumer?.disconnect();
    } finally {
      duck?.close();
    }
  }

  /**
   * Runs (starting if needed) until the group has committed every message that was in the topic
   * when called, then stops: a deterministic end for tests and one-shot catch-up jobs.
   */
  async runUntilCaughtUp(timeoutMs = 60_000): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const targets = await admin.fetchTopicOffsets(this.topic);
      await this.start();
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (this.failure !== undefined) throw this.failure;
        const [group] = await admin.fetchOffsets({ groupId: this.groupId, topics: [this.topic] });
        const committed = new Map(group?.partitions.map((p) => [p.partition, BigInt(p.offset)]));
        const behind = targets.filter(
          (t) => t.high !== t.low && (committed.get(t.partition) ?? -1n) < BigInt(t.high),
        );
        if (behind.length === 0) return;
        if (Date.now() > deadline) {
          throw new Error(
            `quarantine lake writer still behind on partitions ${behind.map((t) => t.partition)}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await admin.disconnect();
      await this.stop();
    }
  }

  private async eachBatch({
    batch,
    resolveOffset,
    heartbeat,
    commitOffsetsIfNecessary,
    uncommittedOffsets,
    isRunning,
    isStale,
  }: EachBatchPayload): Promise<void> {
    if (batch.isEmpty()) return;
    const duck = this.duck;
    if (!duck) return;
    // A local reference: a rebalance may swap the map out while this batch is being written.
    this.written ??= await writtenOffsets(this.root);
    const written = this.written;
    const already = written.get(batch.partition) ?? -1n;
    const fresh = batch.messages
      .filter((m) => BigInt(m.offset) > already)
      .map((m) => stage(batch.partition, m));
    for (const part of splitByDay(batch.partition, fresh)) {
      if (!isRunning() || isStale()) return;
      await writePartFile(duck.connection, this.root, part);
      written.set(batch.partition, part.last);
      await heartbeat();
    }
    resolveOffset(batch.lastOffset());
    await commitOffsetsIfNecessary(uncommittedOffsets());
  }
}
