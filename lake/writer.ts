// The lake writer: the events topic through the quality gate into the lake's events table. It
// rides the shared gated consumer with a deferred sink: ranges are staged as they come and
// committed together by size or age (commit-buffer.ts), one Delta version whose txn actions record
// where each partition resumes, so the lake itself says what it already holds. After a crash the
// records the lake already holds are recognised by offset and not written twice, and Parquet
// written without a commit is never read (vacuum removes it). A record DuckDB refuses is isolated
// (isolate.ts) and the range goes on without it. Beside the speed layer in one process, the writer
// takes each range's verdicts from the speed layer's gates (quality/verdict-board.ts) where it can,
// and gates the range itself where it cannot.
// The lake writer is the platform's one publisher of rejections: Kafka's offsets follow the lake
// commit, each partition's in a Kafka transaction that also publishes the rejections of the
// ranges it covers (pipeline/deferred-delivery.ts, quality/quarantine/transactions.ts).
import type { Registry } from 'prom-client';
import type { Config } from '../config/index.ts';
import {
  type DimensionIndex,
  indexDimensions,
  type LiveDimensions,
  openPlatformDimensions,
} from '../contracts/index.ts';
import { BURST_THREADS } from '../duckdb/index.ts';
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
  sinkRejection,
  transactionalQuarantine,
  type VerdictBoard,
} from '../quality/index.ts';
import { CommitBuffer } from './commit-buffer.ts';
import { stageAccepted } from './event-rows.ts';
import { EVENTS_SCHEMA, lakeTableDir } from './events.ts';
import { refusedByDuckDB } from './isolate.ts';
import { type LakeTable, openTable } from './table.ts';

/** The txn appId of one source partition: a writer resumes from the version recorded under it. */
export const txnAppId = (groupId: string, topic: string, partition: number): string =>
  `${groupId}:${topic}:${partition}`;

interface LakeSinkOptions {
  buffer: CommitBuffer;
  groupId: string;
  /** The dimensions records are enriched with when staged: the newest the process holds. */
  dimensions: () => DimensionIndex;
  qualityMetrics?: QualityMetrics;
}

export function createLakeSink({
  buffer,
  groupId,
  dimensions,
  qualityMetrics,
}: LakeSinkOptions): DeferredSink<readonly AcceptedRecord[]> {
  const stage = (records: readonly AcceptedRecord[]) =>
    records.length > 0 ? stageAccepted(records, dimensions()) : undefined;
  return {
    flush: () => buffer.commitNow(),
    async take(token, { accepted, report }) {
      const { topic, partition, range } = parseToken(token);
      const appId = txnAppId(groupId, topic, partition);
      // Records below `held` are in the lake or on their way there (and durable with `holding`).
      const { from: held, durable: holding } = await buffer.held(appId);
      const fresh = accepted.filter((r) => Number(r.source.offset) >= held);
      // What the lake left out of the records it holds is found again, as it was then: their
      // refusals were not published unless Kafka's offset had moved past them.
      const refused =
        fresh.length < accepted.length
          ? await refusedByDuckDB(
              accepted.filter((r) => Number(r.source.offset) < held),
              dimensions(),
            )
          : new Map<AcceptedRecord, string>();
      const resumeAt = range.last + 1;
      let durable = holding;
      if (held < resumeAt) {
        try {
          ({ durable } = await buffer.add(appId, resumeAt, stage(fresh)));
        } catch (error) {
          // A record DuckDB refuses fails the whole stage, which leaves nothing behind: isolate it
          // and stage the rest. A failure no record explains (the disk) fails the range, which is
          // redone.
          const isolated = await refusedByDuckDB(fresh, dimensions());
          if (isolated.size === 0) throw error;
          for (const [record, reason] of isolated) refused.set(record, reason);
          ({ durable } = await buffer.add(appId, resumeAt, stage(fresh.filter((r) => !isolated.has(r)))));
        }
      }
      qualityMetrics?.observeBatch(report);
      let newest = 0;
      for (const r of accepted) if (!refused.has(r)) newest = Math.max(newest, r.eventTimeMs);
      const at = Date.now();
      return {
        durable: durable.then(() => newest || undefined),
        refused: [...refused].map(([record, reason]) => sinkRejection(record, reason, at)),
      };
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
  | 'dimensionsRefreshSeconds'
>;

export type LakeWriterOptions = Partial<
  Pick<
    GatedConsumerOptions<readonly AcceptedRecord[]>,
    'groupId' | 'maxRecords' | 'dedupLookback' | 'sessionTimeoutMs' | 'lingerMs'
  >
> & {
  registry?: Registry;
  /**
   * The process's dimensions, shared with its other gates (cli/platform.ts); by default the writer
   * opens its own, refreshed every TIDEWATER_DIMENSIONS_REFRESH_SECONDS.
   */
  dimensions?: LiveDimensions;
  /**
   * Verdicts the process's speed layer posts (cli/platform.ts): the writer takes each range's from
   * there when the board holds it, and gates the range itself otherwise.
   */
  verdicts?: VerdictBoard;
};

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

/**
 * kafkajs heartbeats only between the steps of its fetch loop, and a lake fetch is large (tens of
 * thousands of records per partition, decoded on the event loop): in the all-in-one soak at 50,000
 * events/s, with the speed layer on the same thread, the lake writer went up to 9 s without a
 * heartbeat and was evicted from its group about once a minute under the consumers' 10 s default,
 * each time taking up to a minute of ranges again from Kafka's committed offset (which follows the
 * lake commits). Its data waits up to a minute for its commit anyway, so a dead writer's
 * partitions waiting 20 s longer for a new owner cost nothing a reader sees.
 */
const LAKE_SESSION_TIMEOUT_MS = 30_000;

export async function startLakeWriter(
  cfg: LakeWriterConfig,
  options: LakeWriterOptions = {},
): Promise<LakeWriter> {
  const { registry, dimensions: shared, verdicts, ...consumerOptions } = options;
  const groupId = consumerOptions.groupId ?? cfg.lakeGroup;
  const kafka = createKafka(cfg, 'lake');
  await ensurePlatformTopics(kafka, cfg);
  const table = await openTable(lakeTableDir(cfg.dataDir), EVENTS_SCHEMA, { threads: BURST_THREADS });
  const buffer = new CommitBuffer(table, {
    maxBytes: cfg.lakeCommitMb * 1024 * 1024,
    maxAgeMs: cfg.lakeCommitSeconds * 1000,
  });
  const dimensions =
    shared ??
    (await openPlatformDimensions(cfg.dataDir, cfg.dimensionsRefreshSeconds * 1000, (error) =>
      console.error(
        `lake writer: dimensions in ${cfg.dataDir} not refreshed, the previous ones stay: ${error.message}`,
      ),
    ));
  let index = indexDimensions(dimensions.current);
  // The gate and the staging enrichment take each refreshed set from their next range on.
  const gates = localGates(
    { dimensions: dimensions.current, allowedLatenessMinutes: cfg.allowedLatenessMinutes },
    () => (accepted) => accepted,
    verdicts && { board: verdicts, role: 'take' },
  );
  const unsubscribe = dimensions.subscribe(async (next) => {
    index = indexDimensions(next);
    await gates.setDimensions(next);
  });
  const release = () => {
    unsubscribe();
    if (!shared) dimensions.stop();
    table.close();
  };
  const consumer = new GatedConsumer({
    ...consumerOptions,
    // The CLI passes its flags unset as undefined: the writer's own defaults, not the consumer's.
    maxRecords: consumerOptions.maxRecords ?? LAKE_MAX_RECORDS,
    maxInFlight: LAKE_MAX_IN_FLIGHT,
    sessionTimeoutMs: consumerOptions.sessionTimeoutMs ?? LAKE_SESSION_TIMEOUT_MS,
    groupId,
    kafka,
    topic: cfg.eventsTopic,
    // The sink stages the accepted records itself, in DuckDB: the gate hands them over as they are.
    gates,
    allowedLatenessMinutes: cfg.allowedLatenessMinutes,
    sink: createLakeSink({
      buffer,
      groupId,
      dimensions: () => index,
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
    release();
    throw error;
  }
  return {
    consumer,
    table,
    async stop() {
      try {
        // The ranges in hand commit now rather than at their age; the consumer waits for them.
        const stopped = consumer.stop();
        await Promise.all([stopped, buffer.drain()]);
      } finally {
        release();
      }
    },
  };
}
