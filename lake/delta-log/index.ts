export type {
  Action,
  AddFile,
  CommitInfo,
  FileStats,
  Metadata,
  PartitionValues,
  Protocol,
  RemoveFile,
  Txn,
} from './actions.ts';
export { type LastCheckpoint, readLastCheckpoint } from './checkpoint.ts';
export {
  CommitConflictError,
  checkpointFileName,
  LOG_DIR,
  listLog,
  readVersion,
  versionFileName,
} from './files.ts';
export { DeltaLog, type HistoryEntry, type SnapshotAt } from './log.ts';
export type { Snapshot } from './snapshot.ts';
