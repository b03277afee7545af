export * from './delta-log/index.ts';
export { stageAccepted } from './event-rows.ts';
export { EVENTS_SCHEMA, type LakeRow, lakeTableDir } from './events.ts';
export type { LakeValue, Row, StagedBatch } from './parquet/stage.ts';
export {
  type ColumnDef,
  type DeltaType,
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
export { CHECKSUM_TAG, type FileProblem, LakeCorruptionError, sha256OfFile, verifyFiles } from './verify.ts';
export {
  createLakeSink,
  type LakeWriter,
  type LakeWriterConfig,
  type LakeWriterOptions,
  startLakeWriter,
  txnAppId,
} from './writer.ts';
