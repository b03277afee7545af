// The speed layer as one running thing: topics and DDL ensured, then Kafka -> gate -> ClickHouse
// and quarantine. Used by `tidewater speed`, the tests and the bench alike.
import type { ClickHouseClient } from '@clickhouse/client';
import type { Registry } from 'prom-client';
import type { Config } from '../config/index.ts';
import { indexDimensions, loadPlatformDimensions } from '../contracts/index.ts';
import { createKafka, ensurePlatformTopics } from '../kafka/index.ts';
import { GatedConsumer, type GatedConsumerOptions } from '../pipeline/index.ts';
import { createQualityMetrics } from '../quality/index.ts';
import { QuarantinePublisher } from '../quality/quarantine/index.ts';
import { createClickHouse } from './clickhouse.ts';
import { applySpeedLayerDdl, DEFAULT_SPEED_DDL_OPTIONS, type SpeedDdlOptions } from './ddl.ts';
import { createSpeedMetrics } from './metrics.ts';
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
>;

export type SpeedLayerOptions = Partial<Pick<GatedConsumerOptions, 'groupId'>> &
  Pick<
    GatedConsumerOptions,
    | 'maxRecords'
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
  };

export interface SpeedLayer {
  consumer: GatedConsumer;
  clickhouse: ClickHouseClient;
  /** Graceful: the chunk in hand is finished and committed before anything closes. */
  stop(): Promise<void>;
}

export async function startSpeedLayer(
  cfg: SpeedLayerConfig,
  options: SpeedLayerOptions = {},
): Promise<SpeedLayer> {
  const { registry, ddl = DEFAULT_SPEED_DDL_OPTIONS, commits, ...consumerOptions } = options;
  const kafka = createKafka(cfg, 'speed');
  await ensurePlatformTopics(kafka, cfg);
  const ownsClickHouse = options.clickhouse === undefined;
  const clickhouse = options.clickhouse ?? createClickHouse({ url: cfg.clickhouseUrl, dataDir: cfg.dataDir });
  await applySpeedLayerDdl(clickhouse, undefined, ddl);
  const dimensions = await loadPlatformDimensions(cfg.dataDir);
  const quarantine = new QuarantinePublisher(kafka, { topic: cfg.quarantineTopic });
  await quarantine.connect();
  const metrics = registry && createSpeedMetrics(registry);
  const consumer = new GatedConsumer({
    ...consumerOptions,
    groupId: consumerOptions.groupId ?? cfg.speedGroup,
    kafka,
    topic: cfg.eventsTopic,
    gate: { dimensions, allowedLatenessMinutes: cfg.allowedLatenessMinutes },
    metrics,
    sink: createSink({
      clickhouse,
      quarantine,
      dimensions: indexDimensions(dimensions),
      metrics,
      qualityMetrics: registry && createQualityMetrics(registry),
      commits,
    }),
  });
  await consumer.start();
  return {
    consumer,
    clickhouse,
    async stop() {
      try {
        await consumer.stop();
        await quarantine.disconnect();
      } finally {
        if (ownsClickHouse) await clickhouse.close();
      }
    },
  };
}
