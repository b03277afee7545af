export { type ClickHouseOptions, createClickHouse, embeddedPath } from './clickhouse.ts';
export { clickhouseDialect, hllPrecision } from './clickhouse-dialect.ts';
export {
  DEFAULT_SPEED_GROUP,
  SPEED_CONSUMER_DEFAULTS,
  SpeedConsumer,
  type SpeedConsumerOptions,
} from './consumer.ts';
export {
  applySpeedLayerDdl,
  DEFAULT_SPEED_DDL_OPTIONS,
  metricTableDdl,
  metricViewDdl,
  metricViewName,
  RAW_TABLE,
  rawTableDdl,
  type SpeedDdlOptions,
  speedLayerDdl,
} from './ddl.ts';
export { insertRaw } from './insert.ts';
export { fetchPositions, lagOf, type PartitionPosition } from './lag.ts';
export { createSpeedMetrics, type SpeedMetrics } from './metrics.ts';
export { serveMetrics } from './metrics-server.ts';
export { dedupToken, type OffsetRange, parsePending, pendingMetadata } from './offset-range.ts';
export { type MetricRow, metricQuery, queryMetric, type TimeRange } from './query.ts';
export {
  type SpeedLayer,
  type SpeedLayerConfig,
  type SpeedLayerOptions,
  startSpeedLayer,
} from './service.ts';
export { createSink, type QuarantineSink, type Sink, type SinkOptions } from './sink.ts';
export { EventTimeWatermark } from './watermark.ts';
