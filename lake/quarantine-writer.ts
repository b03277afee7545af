// Consumes the quarantine topic into the lake's quarantine table (quarantine-table.ts), exactly once
// by the events table's machinery: messages are staged as they come and committed by size or age
// (commit-buffer.ts), each version recording per quarantine partition (a Delta txn) where the
// table's rows end. A restart, a rebalance or a second writer skips what the table holds, whatever
// Kafka's committed offset says; Kafka's offsets follow the commits only so that a restart fetches
// less. A message that is not a quarantine message (anyone who may produce to the topic can write
// one) is kept as a rejection of its own, with the reason: no record stalls the writer.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BURST_THREADS } from '../duckdb/index.ts';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from '../kafka/index.ts';
import { checkGroupServes, rerunAfterCrash } from '../kafka/index.ts';
import { MAX_QUARANTINED_BYTES, MAX_TIME_MS, parseQuarantineValue } from '../quality/index.ts';
import { CommitBuffer, type CommitPolicy } from './commit-buffer.ts';
import {
  LEGACY_APP_ID,
  openQuarantineTable,
  type QuarantineRow,
  stageQuarantineRows,
} from './quarantine-table.ts';
import type { LakeTable } from './table.ts';

/**
 * The txn appId under which the table records how far it holds a quarantine-topic partition: the
 * table's own, whichever group writes it, so that no group adds a record the table holds.
 */
export const quarantineAppId = (topic: string, partition: number): string => `${topic}:${partition}`;

/** The largest offset the table's `source_offset` (a Delta long) holds. */
const MAX_OFFSET = String(2n ** 63n - 1n);

/**
 * A Kafka timestamp (any 64-bit value a producer set) within what a Date and the table's timestamp
 * hold, so that a foreign message's far time cannot fail its range's stage.
 */
const withinDates = (ms: number): number =>
  Number.isFinite(ms) ? Math.min(Math.max(ms, -MAX_TIME_MS), MAX_TIME_MS) : 0;

/** The rule a message that is no quarantine message is kept under. */
export const MALFORMED_QUARANTINE_RULE = 'quarantine.message';

export interface QuarantineLakeWriterOptions {
  kafka: Kafka;
  /** The quarantine topic. */
  topic: string;
  /** Directory of the table, `quarantineTableDir(dataDir)`. */
  root: string;
  /** The platform's TIDEWATER_QUARANTINE_GROUP: refused at start when it serves another topic. */
  groupId: string;
  /**
   * When staged messages are committed: TIDEWATER_LAKE_COMMIT_MB and
   * TIDEWATER_QUARANTINE_COMMIT_SECONDS in the platform; by default 64 MiB or 10 s.
   */
  commitPolicy?: CommitPolicy;
  log?: (line: string) => void;
}

const DEFAULT_POLICY: CommitPolicy = { maxBytes: 64 * 1024 * 1024, maxAgeMs: 10_000 };
/** NDJSON files writers before 2026-12-06 staged through: hidden, so neither readers nor vacuum see them. */
const STAGED_FILE = /^\.staged-.*\.ndjson$/;

const base64 = (b: Buffer | null): string | null =>
  b === null ? null : b.subarray(0, MAX_QUARANTINED_BYTES).toString('base64');

/** The table row of a quarantine-topic message, or of a message that is not one. */
export function quarantineRowOf(
  topic: string,
  partition: number,
  message: Pick<KafkaMessage, 'offset' | 'key' | 'value' | 'timestamp'>,
): QuarantineRow {
  const at = { quarantine_partition: partition, quarantine_offset: Number(message.offset) };
  try {
    const m = parseQuarantineValue(message.value);
    if (m.sourceOffset.length >= MAX_OFFSET.length && BigInt(m.sourceOffset) > BigInt(MAX_OFFSET))
      throw new Error(`sourceOffset ${m.sourceOffset} is beyond the table's 64-bit offsets`);
    return {
      rejected_at: Date.parse(m.rejectedAt),
      source_topic: m.sourceTopic,
      source_partition: m.sourcePartition,
      source_offset: m.sourceOffset,
      source_key: m.sourceKey,
      source_timestamp: m.sourceTimestamp,
      event_id: m.eventId ?? null,
      event_type: m.eventType ?? null,
      event_time: m.eventTime ?? null,
      rule_ids: m.ruleIds,
      failures: m.failures.map((f) => ({ rule_id: f.ruleId, severity: f.severity, message: f.message })),
      original: m.original,
      ...at,
    };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const timestamp = withinDates(Number(message.timestamp));
    return {
      // The message's own time, not the clock: a message staged again is the same row.
      rejected_at: timestamp,
      source_topic: topic,
      source_partition: partition,
      source_offset: message.offset,
      source_key: base64(message.key ?? null),
      source_timestamp: timestamp,
      event_id: null,
      event_type: null,
      event_time: null,
      rule_ids: [MALFORMED_QUARANTINE_RULE],
      failures: [
        {
          rule_id: MALFORMED_QUARANTINE_RULE,
          severity: 'quarantine',
          message: `not a quarantine message: ${reason.slice(0, 2_000)}`,
        },
      ],
      original: base64(message.value),
      ...at,
    };
  }
}

export class QuarantineLakeWriter {
  private readonly kafka: Kafka;
  private readonly topic: string;
  private readonly root: string;
  readonly groupId: string;
  private readonly policy: CommitPolicy;
  private readonly log: (line: string) => void;
  private consumer: Consumer | undefined;
  private table: LakeTable | undefined;
  private buffer: CommitBuffer | undefined;
  /** Per partition, the Kafka offset commits waiting for their lake commits, in offset order. */
  private kafkaCommits = new Map<number, Promise<void>>();
  /** Bumped by each restart after a failed lake commit: older failures need no restart of their own. */
  private generation = 0;
  private failure: unknown;
  private stopping = false;
  private cancelRerun: () => void = () => {};
  private run: () => Promise<void> = async () => {};

  constructor(opts: QuarantineLakeWriterOptions) {
    this.kafka = opts.kafka;
    this.topic = opts.topic;
    this.root = opts.root;
    this.groupId = opts.groupId;
    this.policy = opts.commitPolicy ?? DEFAULT_POLICY;
    this.log = opts.log ?? console.error;
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
    const table = await openQuarantineTable(this.root, this.log, { threads: BURST_THREADS });
    try {
      await this.removeStaged();
      await this.adoptLegacy(table);
    } catch (error) {
      table.close();
      throw error;
    }
    this.table = table;
    this.buffer = new CommitBuffer(table, this.policy);
    this.failure = undefined;
    const consumer = this.kafka.consumer({ groupId: this.groupId, maxWaitTimeInMs: 250 });
    this.consumer = consumer;
    this.run = () =>
      consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: (p) => this.eachBatch(p),
      });
    consumer.on(consumer.events.CRASH, (event) => {
      this.failure ??= event.payload.error;
    });
    // A partition's next owner finds what this member staged for it in the table, not in a buffer.
    consumer.on(consumer.events.REBALANCING, () => {
      void this.buffer?.commitNow().catch(() => undefined);
    });
    // The lake writer publishes in transactions, whose commit markers (and aborted records) the
    // consumer skips without calling eachBatch: a fetch of nothing else would leave the committed
    // offset short of the log's end for good. Everything before such a batch is staged by then.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.batchSize > 0 || this.consumer !== consumer || this.stopping) return;
      this.commitKafka(payload.partition, Number(payload.lastOffset) + 1, Promise.resolve());
    });
    this.cancelRerun = rerunAfterCrash(
      consumer,
      this.run,
      () => this.consumer === consumer && !this.stopping,
    );
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: this.topic, fromBeginning: true });
      await this.run();
    } catch (error) {
      // Nothing is staged yet: stopping only closes the table and the consumer.
      await this.stop().catch(() => undefined);
      throw error;
    }
  }

  /** Graceful: what is staged is committed to the table, and its offsets to Kafka, first. */
  async stop(): Promise<void> {
    const { consumer, table, buffer } = this;
    this.stopping = true;
    this.cancelRerun();
    try {
      try {
        consumer?.pause([{ topic: this.topic }]);
      } catch {
        // not running (it crashed): nothing is fetched either way
      }
      await buffer
        ?.drain()
        .catch((error: unknown) => this.log(`quarantine writer: the last commit failed: ${error}`));
      // Kafka's commits need the running consumer.
      await Promise.all(this.kafkaCommits.values());
      this.consumer = undefined;
      await consumer?.disconnect();
    } finally {
      this.consumer = undefined;
      this.stopping = false;
      this.kafkaCommits = new Map();
      this.table = undefined;
      this.buffer = undefined;
      table?.close();
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
        // Without waiting for the commit age: nothing else is coming.
        await this.buffer?.commitNow();
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

  private async eachBatch({ batch, resolveOffset, heartbeat }: EachBatchPayload): Promise<void> {
    const { buffer } = this;
    if (batch.isEmpty() || !buffer) return;
    const { partition } = batch;
    const appId = quarantineAppId(this.topic, partition);
    // Messages below `from` are in the table or on their way there (durable with `holding`).
    const { from, durable: holding } = await buffer.held(appId);
    const resumeAt = Number(batch.lastOffset()) + 1;
    let durable = holding;
    if (from < resumeAt) {
      const rows = batch.messages
        .filter((m) => Number(m.offset) >= from)
        .map((m) => quarantineRowOf(this.topic, partition, m));
      ({ durable } = await this.stage(buffer, appId, resumeAt, rows));
    }
    this.commitKafka(partition, resumeAt, durable);
    resolveOffset(batch.lastOffset());
    await heartbeat();
  }

  /** Stages `rows` as the table's rows up to `resumeAt`; resolves once staged, with their commit. */
  private async stage(
    buffer: CommitBuffer,
    appId: string,
    resumeAt: number,
    rows: readonly QuarantineRow[],
  ): Promise<{ durable: Promise<void> }> {
    return buffer.add(appId, resumeAt, rows.length === 0 ? undefined : stageQuarantineRows(rows));
  }

  /**
   * Commits `offset` to Kafka once `durable` (the lake commit holding what lies below it) and every
   * earlier commit of the partition have. A lake commit that failed (another writer recorded the
   * partition meanwhile, or the disk) runs the consumer again: it starts over from Kafka's committed
   * offset, which never passes what the table holds, and skips what the table holds by then.
   */
  private commitKafka(partition: number, offset: number, durable: Promise<void>): void {
    const consumer = this.consumer;
    const generation = this.generation;
    const previous = this.kafkaCommits.get(partition) ?? Promise.resolve();
    const next = previous
      .then(() => durable)
      .then(
        () =>
          consumer
            ?.commitOffsets([{ topic: this.topic, partition, offset: String(offset) }])
            .catch(() => undefined),
        (error: unknown) => {
          if (generation !== this.generation || this.consumer !== consumer || !consumer || this.stopping)
            return;
          this.generation++;
          this.log(`quarantine writer: a lake commit failed, consuming again from Kafka: ${error}`);
          return consumer.stop().then(this.run, (e: unknown) => {
            this.failure ??= e;
          });
        },
      );
    this.kafkaCommits.set(partition, next);
  }

  /**
   * Where the converted files of an older table end becomes the table's resume point for each
   * quarantine partition of this topic (in a version of its own), unless one is recorded.
   */
  private async adoptLegacy(table: LakeTable): Promise<void> {
    const snapshot = await table.refresh();
    const prefix = `${LEGACY_APP_ID}:`;
    const txn = [...snapshot.txns.values()]
      .filter((t) => t.appId.startsWith(prefix))
      .map((t) => ({
        appId: quarantineAppId(this.topic, Number(t.appId.slice(prefix.length))),
        version: t.version,
      }))
      .filter((t) => !snapshot.txns.has(t.appId));
    if (txn.length === 0) return;
    try {
      await table.appendBatch([], { txn });
    } catch (error) {
      // Another writer adopted them meanwhile.
      const now = await table.refresh();
      if (!txn.every((t) => now.txns.has(t.appId))) throw error;
    }
  }

  /** NDJSON files an older writer killed while staging left behind. */
  private async removeStaged(): Promise<void> {
    const names = await readdir(this.root).catch(() => [] as string[]);
    await Promise.all(
      names.filter((n) => STAGED_FILE.test(n)).map((n) => rm(join(this.root, n), { force: true })),
    );
  }
}
