// The speed layer as one running thing: topics and DDL ensured, then Kafka -> gate -> ClickHouse
// and quarantine. Used by `tidewater speed`, the tests and the bench alike.
import type { ClickHouseClient } from '@clickhouse/client';
import type { Registry } from 'prom-client';
import { createClickHouse } from '../clickhouse/index.ts';
import type { Config } from '../config/index.ts';
import { type LiveDimensions, openPlatformDimensions } from '../contracts/index.ts';
import { createKafka, ensurePlatformTopics } from '../kafka/index.ts';
import { GatedConsumer, type GatedConsumerOptions, localGates, threadedGates } from '../pipeline/index.ts';
import { createQualityMetrics, type VerdictBoard } from '../quality/index.ts';
import { QuarantinePublisher } from '../quality/quarantine/index.ts';
import { applySpeedLayerDdl, DEFAULT_SPEED_DDL_OPTIONS, type SpeedDdlOptions } from './ddl.ts';
import { createSpeedMetrics } from './metrics.ts';
import { INSERT_PREPARER, type PreparedInsert, prepareInsert } from './prepare.ts';
import { createSink, type SinkOptions } from './sink.ts';

export type SpeedLayerConfig = Pick<
  Config,
  | 'kafkaBrokers'
  | 'kafkaClientId'
  | 'logLevel'
  | 'eventsTopic'
  | 'quarantineTopic'
  | 'eventsPartitions'
  | 'clickhouseUrl'
  | 'dataDir'
  | 'allowedLatenessMinutes'
  | 'speedGroup'
  | 'speedGateThreads'
  | 'dimensionsRefreshSeconds'
>;

export type SpeedLayerOptions = Partial<Pick<GatedConsumerOptions<PreparedInsert>, 'groupId'>> &
  Pick<
    GatedConsumerOptions<PreparedInsert>,
    | 'maxRecords'
    | 'maxInFlight'
    | 'maxBytesPerPartition'
    | 'lingerMs'
    | 'dedupLookback'
    | 'partitionsConsumedConcurrently'
    | 'sessionTimeoutMs'
  > & {
    /** Metrics of the speed layer and its gate go here. */
    registry?: Registry;
    /** An open client to use (and leave open); by default one is opened from the config and closed on stop. */
    clickhouse?: ClickHouseClient;
    ddl?: SpeedDdlOptions;
    /** Announces each commit to API instances (live push, query cache). */
    commits?: SinkOptions['commits'];
    /** Gate threads (0: gate on the event loop); TIDEWATER_SPEED_GATE_THREADS, else DEFAULT_SPEED_GATE_THREADS. */
    gateThreads?: number;
    /**
     * Where the gates post their verdicts for the process's lake writer to take (cli/platform.ts);
     * only gates on the event loop post, so it goes with gateThreads 0.
     */
    verdicts?: VerdictBoard;
    /**
     * The process's dimensions, shared with its other gates (cli/platform.ts); by default the layer
     * opens its own, refreshed every TIDEWATER_DIMENSIONS_REFRESH_SECONDS.
     */
    dimensions?: LiveDimensions;
    /** Told when changed dimension files cannot be used (the previous ones stay); logged by default. */
    onDimensionsError?: (error: Error) => void;
  };

const SPEED_FETCH_BYTES_PER_PARTITION = 4 * 1024 * 1024;

/**
 * Gate threads of a speed layer with its process to itself. One gates ~200,000 events/s, more than
 * two cores sustain for the whole layer (docs/speed.md: a second thread measured no faster), and
 * each costs a JS heap (~250 MB at peak).
 */
export const DEFAULT_SPEED_GATE_THREADS = 1;

export interface SpeedLayer {
  consumer: GatedConsumer<PreparedInsert>;
  clickhouse: ClickHouseClient;
  /** Views of earlier metric versions this start dropped: their tables are no longer fed. */
  retiredViews: readonly string[];
  /** Graceful: the chunk in hand is finished and committed before anything closes. */
  stop(): Promise<void>;
}

export async function startSpeedLayer(
  cfg: SpeedLayerConfig,
  options: SpeedLayerOptions = {},
): Promise<SpeedLayer> {
  const {
    registry,
    ddl = DEFAULT_SPEED_DDL_OPTIONS,
    commits,
    gateThreads = cfg.speedGateThreads ?? DEFAULT_SPEED_GATE_THREADS,
    verdicts,
    onDimensionsError = (error: Error) =>
      console.error(
        `speed layer: dimensions in ${cfg.dataDir} not refreshed, the previous ones stay: ${error.message}`,
      ),
    ...consumerOptions
  } = options;
  if (verdicts && gateThreads > 0)
    throw new Error(
      'speed layer: gate threads do not post verdicts; share a verdict board with gateThreads 0',
    );
  const kafka = createKafka(cfg, 'speed');
  await ensurePlatformTopics(kafka, cfg);
  const ownsClickHouse = options.clickhouse === undefined;
  const clickhouse = options.clickhouse ?? createClickHouse({ url: cfg.clickhouseUrl, dataDir: cfg.dataDir });
  const retiredViews = await applySpeedLayerDdl(clickhouse, undefined, ddl);
  const ownsDimensions = options.dimensions === undefined;
  const dimensions =
    options.dimensions ??
    (await openPlatformDimensions(cfg.dataDir, cfg.dimensionsRefreshSeconds * 1000, onDimensionsError));
  const quarantine = new QuarantinePublisher(kafka, { topic: cfg.quarantineTopic });
  await quarantine.connect();
  const metrics = registry && createSpeedMetrics(registry);
  const gateOptions = { dimensions: dimensions.current, allowedLatenessMinutes: cfg.allowedLatenessMinutes };
  const gates =
    gateThreads > 0
      ? threadedGates<PreparedInsert>({
          options: gateOptions,
          preparer: INSERT_PREPARER,
          threads: gateThreads,
        })
      : localGates(gateOptions, prepareInsert, verdicts && { board: verdicts, role: 'post' });
  // Subscribed in the tick the gates took the current set, so no refresh falls between.
  const unsubscribe = dimensions.subscribe((next) => gates.setDimensions(next));
  const consumer = new GatedConsumer({
    // Every assigned partition gated at once, so that a fetch round's ranges meet in one grouped insert.
    partitionsConsumedConcurrently: cfg.eventsPartitions,
    // A fetch (24 MB) then holds every partition of the default six (with 8 MB a backlog round held
    // three): a round's ranges meet in one grouped insert, and gate threads, which share the
    // partitions by number, all get work.
    maxBytesPerPartition: SPEED_FETCH_BYTES_PER_PARTITION,
    ...consumerOptions,
    groupId: consumerOptions.groupId ?? cfg.speedGroup,
    kafka,
    topic: cfg.eventsTopic,
    gates,
    allowedLatenessMinutes: cfg.allowedLatenessMinutes,
    metrics,
    sink: createSink({
      clickhouse,
      quarantine,
      metrics,
      qualityMetrics: registry && createQualityMetrics(registry),
      commits,
    }),
  });
  try {
    await consumer.start();
  } catch (error) {
    unsubscribe();
    if (ownsDimensions) dimensions.stop();
    throw error;
  }
  return {
    consumer,
    clickhouse,
    retiredViews,
    async stop() {
      unsubscribe();
      if (ownsDimensions) dimensions.stop();
      try {
        await consumer.stop();
        await quarantine.disconnect();
      } finally {
        if (ownsClickHouse) await clickhouse.close();
      }
    },
  };
}
