export {
  type CommitNotice,
  connectCommitPublisher,
  parseCommitNotice,
  readSpeedState,
  SpeedCommitPublisher,
  type SpeedState,
  speedCommitsChannel,
  speedStateKey,
} from './commits.ts';
export {
  applySpeedLayerDdl,
  DEFAULT_SPEED_DDL_OPTIONS,
  metricTableDdl,
  metricViewDdl,
  metricViewName,
  RAW_TABLE,
  rawTableDdl,
  retiredViewsNotice,
  type SpeedDdlOptions,
  speedLayerDdl,
} from './ddl.ts';
export { insertRaw } from './insert.ts';
export { createSpeedMetrics, type SpeedMetrics } from './metrics.ts';
export { serveMetrics } from './metrics-server.ts';
export { INSERT_PREPARER, type PreparedInsert, prepareInsert } from './prepare.ts';
export {
  DEFAULT_SPEED_GATE_THREADS,
  type SpeedLayer,
  type SpeedLayerConfig,
  type SpeedLayerOptions,
  startSpeedLayer,
} from './service.ts';
export { createSink, type QuarantineSink, type SinkOptions } from './sink.ts';
