// The lake writer: the events topic through the quality gate into the lake's events table. It
// rides the shared gated consumer; its sink commits each offset range as one Delta version whose
// txn action records where the partition resumes, so the lake itself says what it already holds.
// A range replayed after a crash (announced in the offset commit, see pipeline/delivery.ts) is
// found covered by the txn and not written twice; Parquet written without a commit is never read.
// A record DuckDB refuses is isolated (isolate.ts) and quarantined, and the range goes on. The
// lake writer is the platform's publisher of rejections: each range's go to quarantine in the
// Kafka transaction that commits the range's offsets.
import type { Registry } from 'prom-client';
import type { Config } from '../config/index.ts';
import { type DimensionIndex, indexDimensions, loadPlatformDimensions } from '../contracts/index.ts';
import { createKafka, ensurePlatformTopics } from '../kafka/index.ts';
import {
  GatedConsumer,
  type GatedConsumerOptions,
  localGates,
  parseToken,
  type Sink,
} from '../pipeline/index.ts';
import {
  type AcceptedRecord,
  createQualityMetrics,
  type QualityMetrics,
  sinkRejection,
  transactionalQuarantine,
} from '../quality/index.ts';
import { stageAccepted } from './event-rows.ts';
import { EVENTS_SCHEMA, lakeTableDir } from './events.ts';
import { refusedByDuckDB } from './isolate.ts';
import { type LakeTable, openTable } from './table.ts';

/** The txn appId of one source partition: a writer resumes from the version recorded under it. */
export const txnAppId = (groupId: string, topic: string, partition: number): string =>
  `${groupId}:${topic}:${partition}`;

interface LakeSinkOptions {
  table: LakeTable;
  groupId: string;
  dimensions: DimensionIndex;
  qualityMetrics?: QualityMetrics;
}

export function createLakeSink({
  table,
  groupId,
  dimensions,
  qualityMetrics,
}: LakeSinkOptions): Sink<readonly AcceptedRecord[]> {
  return async (token, { accepted, report }) => {
    const { topic, partition, range } = parseToken(token);
    const appId = txnAppId(groupId, topic, partition);
    const resumeAt = range.last + 1;
    const covered = (await table.txnVersion(appId)) ?? 0;
    if (covered > range.first && covered < resumeAt) {
      // Ranges are replayed whole, never split: a half-covered one means two writers disagree.
      throw new Error(`lake holds ${appId} up to ${covered}, inside range ${range.first}-${range.last}`);
    }
    const append = (records: readonly AcceptedRecord[]) =>
      table.appendBatch(stageAccepted(records, dimensions), { txn: [{ appId, version: resumeAt }] });
    let refused = new Map<AcceptedRecord, string>();
    if (covered >= resumeAt) {
      // Committed before a crash or a rebalance: what it left out is found again, as it was then.
      refused = await refusedByDuckDB(accepted, dimensions);
    } else {
      try {
        await append(accepted);
      } catch (error) {
        // A record DuckDB refuses fails the whole statement: isolate it and commit the rest. A
        // failure no record explains (the disk, a concurrent writer) fails the range, which is redone.
        refused = await refusedByDuckDB(accepted, dimensions);
        if (refused.size === 0) throw error;
        await append(accepted.filter((record) => !refused.has(record)));
      }
    }
    qualityMetrics?.observeBatch(report);
    let newest = 0;
    for (const r of accepted) if (!refused.has(r)) newest = Math.max(newest, r.eventTimeMs);
    const at = Date.now();
    return {
      newest: newest || undefined,
      refused: [...refused].map(([record, reason]) => sinkRejection(record, reason, at)),
    };
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

/** Larger ranges than the speed layer's: each one is a Parquet file per partition and a commit. */
const LAKE_MAX_RECORDS = 50_000;

/**
 * One range per partition on its way at a time: a range holds its parsed events until it is
 * written, ~50 MB at this size, and the all-in-one platform has little memory to spare.
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
  const dimensions = await loadPlatformDimensions(cfg.dataDir);
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
      table,
      groupId,
      dimensions: indexDimensions(dimensions),
      qualityMetrics: registry && createQualityMetrics(registry),
    }),
    // The lake writer publishes every rejection of the platform's consumers (the speed layer's
    // gate rejects the same records), each once, with the offsets of its range.
    quarantine: transactionalQuarantine({
      kafka,
      topic: cfg.quarantineTopic,
      groupId,
      sourceTopic: cfg.eventsTopic,
    }),
  });
  try {
    await consumer.start();
  } catch (error) {
    table.close();
    throw error;
  }
  return {
    consumer,
    table,
    async stop() {
      try {
        await consumer.stop();
      } finally {
        table.close();
      }
    },
  };
}
