export * from './delta-log/index.ts';
export { stageAccepted } from './event-rows.ts';
export { EVENTS_SCHEMA, type LakeRow, lakeTableDir } from './events.ts';
export type { LakeValue, Row, StagedBatch } from './parquet/stage.ts';
export {
  openQuarantineStore,
  openQuarantineTable,
  QUARANTINE_SCHEMA,
  quarantineTableDir,
} from './quarantine-table.ts';
export {
  MALFORMED_QUARANTINE_RULE,
  QuarantineLakeWriter,
  type QuarantineLakeWriterOptions,
} from './quarantine-writer.ts';
export {
  type ColumnDef,
  type ColumnType,
  type DeltaType,
  isPrimitive,
  type PartitionColumnDef,
  type TableSchema,
  UTC_TIMESTAMPS,
  utcTimestamp,
} from './schema.ts';
export {
  type AppendOptions,
  type CommitResult,
  createTable,
  LakeTable,
  type LakeTableOptions,
  type OptimizeOptions,
  openTable,
  type Stage,
  TxnConflictError,
  type VacuumOptions,
} from './table.ts';
export { eachLakeTable, LAKE_TABLES, type LakeTableName } from './tables.ts';
export { CHECKSUM_TAG, type FileProblem, LakeCorruptionError, sha256OfFile, verifyFiles } from './verify.ts';
export {
  createLakeSink,
  type LakeWriter,
  type LakeWriterConfig,
  type LakeWriterOptions,
  startLakeWriter,
  txnAppId,
} from './writer.ts';
