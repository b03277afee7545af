// The lake writer: the events topic through the quality gate into the lake's events table. It
// rides the shared gated consumer with a deferred sink: ranges are staged as they come and
// committed together by size or age (commit-buffer.ts), one Delta version whose txn actions record
// where each partition resumes, so the lake itself says what it already holds. Kafka's offsets
// follow the commit; after a crash the records the lake already holds are recognised by offset and
// not written twice, and Parquet written without a commit is never read (vacuum removes it).
import type { Registry } from 'prom-client';
import type { Config } from '../config/index.ts';
import { type DimensionIndex, indexDimensions, loadPlatformDimensions } from '../contracts/index.ts';
import { createKafka, ensurePlatformTopics } from '../kafka/index.ts';
import {
  type DeferredSink,
  GatedConsumer,
  type GatedConsumerOptions,
  localGates,
  parseToken,
} from '../pipeline/index.ts';
import {
  type AcceptedRecord,
  createQualityMetrics,
  type QualityMetrics,
  QuarantinePublisher,
  type RejectedRecord,
} from '../quality/index.ts';
import { CommitBuffer } from './commit-buffer.ts';
import { stageAccepted } from './event-rows.ts';
import { EVENTS_SCHEMA, lakeTableDir } from './events.ts';
import { type LakeTable, openTable } from './table.ts';

/** The txn appId of one source partition: a writer resumes from the version recorded under it. */
export const txnAppId = (groupId: string, topic: string, partition: number): string =>
  `${groupId}:${topic}:${partition}`;

interface LakeSinkOptions {
  buffer: CommitBuffer;
  groupId: string;
  dimensions: DimensionIndex;
  quarantine: { publish(records: readonly RejectedRecord[]): Promise<void> };
  qualityMetrics?: QualityMetrics;
}

export function createLakeSink({
  buffer,
  groupId,
  dimensions,
  quarantine,
  qualityMetrics,
}: LakeSinkOptions): DeferredSink<readonly AcceptedRecord[]> {
  return {
    async take(token, { accepted, rejected, report }) {
      const { topic, partition, range } = parseToken(token);
      const appId = txnAppId(groupId, topic, partition);
      // Records below it are in the lake or on their way there, their rejections published.
      const held = await buffer.heldFrom(appId);
      const fresh = (r: { source: { offset: string } }) => Number(r.source.offset) >= held;
      const toQuarantine = rejected.filter(fresh);
      // Published before the commit that records their offsets as held.
      if (toQuarantine.length > 0) await quarantine.publish(toQuarantine);
      qualityMetrics?.observeBatch(report);
      const resumeAt = range.last + 1;
      let newest = 0;
      for (const r of accepted) newest = Math.max(newest, r.eventTimeMs);
      if (held >= resumeAt) return { durable: Promise.resolve(newest || undefined) };
      const toWrite = accepted.filter(fresh);
      const { durable } = await buffer.add(
        appId,
        resumeAt,
        toWrite.length > 0 ? stageAccepted(toWrite, dimensions) : undefined,
      );
      return { durable: durable.then(() => newest || undefined) };
    },
  };
}

export type LakeWriterConfig = Pick<
  Config,
  | 'kafkaBrokers'
  | 'kafkaClientId'
  | 'logLevel'
  | 'eventsTopic'
  | 'quarantineTopic'
  | 'eventsPartitions'
  | 'dataDir'
  | 'allowedLatenessMinutes'
  | 'lakeGroup'
  | 'lakeCommitMb'
  | 'lakeCommitSeconds'
>;

export type LakeWriterOptions = Partial<
  Pick<
    GatedConsumerOptions<readonly AcceptedRecord[]>,
    'groupId' | 'maxRecords' | 'dedupLookback' | 'sessionTimeoutMs' | 'lingerMs'
  >
> & { registry?: Registry };

export interface LakeWriter {
  consumer: GatedConsumer<readonly AcceptedRecord[]>;
  table: LakeTable;
  /** Graceful: the range in hand is committed to the lake and Kafka before anything closes. */
  stop(): Promise<void>;
}

/** Larger ranges than the speed layer's: a range of this size goes to its own files at once. */
const LAKE_MAX_RECORDS = 50_000;

/**
 * One range per partition held at a time: a range holds its parsed events until it is staged,
 * ~50 MB at this size, and the all-in-one platform has little memory to spare. (Staged ranges wait
 * for their commit without holding them.)
 */
const LAKE_MAX_IN_FLIGHT = 1;

export async function startLakeWriter(
  cfg: LakeWriterConfig,
  options: LakeWriterOptions = {},
): Promise<LakeWriter> {
  const { registry, ...consumerOptions } = options;
  const groupId = consumerOptions.groupId ?? cfg.lakeGroup;
  const kafka = createKafka(cfg, 'lake');
  await ensurePlatformTopics(kafka, cfg);
  const table = await openTable(lakeTableDir(cfg.dataDir), EVENTS_SCHEMA);
  const buffer = new CommitBuffer(table, {
    maxBytes: cfg.lakeCommitMb * 1024 * 1024,
    maxAgeMs: cfg.lakeCommitSeconds * 1000,
  });
  const dimensions = await loadPlatformDimensions(cfg.dataDir);
  const quarantine = new QuarantinePublisher(kafka, { topic: cfg.quarantineTopic });
  await quarantine.connect();
  const consumer = new GatedConsumer({
    maxRecords: LAKE_MAX_RECORDS,
    maxInFlight: LAKE_MAX_IN_FLIGHT,
    ...consumerOptions,
    groupId,
    kafka,
    topic: cfg.eventsTopic,
    // The sink stages the accepted records itself, in DuckDB: the gate hands them over as they are.
    gates: localGates(
      { dimensions, allowedLatenessMinutes: cfg.allowedLatenessMinutes },
      () => (accepted) => accepted,
    ),
    allowedLatenessMinutes: cfg.allowedLatenessMinutes,
    sink: createLakeSink({
      buffer,
      groupId,
      dimensions: indexDimensions(dimensions),
      quarantine,
      qualityMetrics: registry && createQualityMetrics(registry),
    }),
  });
  await consumer.start();
  return {
    consumer,
    table,
    async stop() {
      try {
        // The ranges in hand commit now rather than at their age; the consumer waits for them.
        const stopped = consumer.stop();
        await Promise.all([stopped, buffer.drain()]);
        await quarantine.disconnect();
      } finally {
        table.close();
      }
    },
  };
}
