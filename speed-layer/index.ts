export { type ClickHouseOptions, createClickHouse, embeddedPath } from './clickhouse.ts';
export { clickhouseDialect, hllPrecision } from './clickhouse-dialect.ts';
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
export { type MetricRow, metricQuery, queryMetric, type TimeRange } from './query.ts';
