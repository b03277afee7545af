// The ClickHouse engine: how the platform connects (server or embedded chDB), spells the metric
// compiler's operations, encodes raw rows, inserts idempotently and reads a metric's states.
export {
  type ClickHouseOptions,
  createClickHouse,
  embeddedPath,
  insertStagingDir,
  isEmbedded,
  openClickHouseSession,
  openLocalSession,
  stagedGroupFile,
} from './client.ts';
export { arrayState, clickhouseDialect, hllPrecision } from './dialect.ts';
export { type InsertSelectFromFiles, insertEncoded, insertFile, insertSelectFromFiles } from './insert.ts';
export { type MetricRow, metricQuery, queryMetric, type TimeRange } from './query.ts';
export { encodeRows } from './row-binary.ts';
