export {
  type BackfillOptions,
  type BackfillProgress,
  type BackfillResult,
  backfill,
  hoursScanned,
  viewFilesRead,
} from './backfill.ts';
export {
  type CorrectionState,
  correctionsPath,
  type PendingDay,
  type PendingHour,
  pendingCorrections,
  readCorrections,
  scanCorrections,
} from './corrections.ts';
export {
  applyBatchViewDdl,
  batchTable,
  batchViewDdl,
  batchViewQuery,
  batchViewsDdl,
  type LoadOptions,
  type LoadResult,
  loadBatchView,
  queryBatchView,
} from './load.ts';
export {
  type BatchViewManifest,
  type BatchViewMetric,
  batchViewsDir,
  listBatchManifests,
  readBatchManifest,
  resolveBatchView,
} from './manifest.ts';
export {
  type MetricRecompute,
  type RecomputeOptions,
  type RecomputeResult,
  recomputeMetrics,
} from './recompute.ts';
export { type BatchRunOptions, type BatchRunResult, runBatch } from './run.ts';
export { querySnapshot, type SnapshotAnswer, type SnapshotQuery } from './snapshot-query.ts';
export { type ViewsVacuumOptions, vacuumBatchViews } from './views-vacuum.ts';
export {
  type AdvanceOptions,
  type AdvanceResult,
  advanceWatermark,
  type BatchWatermark,
  readWatermark,
  watermarkPath,
} from './watermark.ts';
