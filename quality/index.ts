export { type ContractCheck, type ContractEngine, ContractViolation, contractCheck } from './contract.ts';
export { DedupWindow, type PartitionRef } from './dedup.ts';
export {
  createGate,
  DEFAULT_ALLOWED_LATENESS_MINUTES,
  DEFAULT_CLOCK_SKEW_SECONDS,
  DEFAULT_DEDUP_WINDOW,
  type DuplicateRecord,
  GATE_RULES,
  type Gate,
  type GateOptions,
  type GateResult,
} from './gate.ts';
export { createQualityMetrics, type QualityMetrics, registerVerdictBoardMetrics } from './metrics.ts';
export * from './quarantine/index.ts';
export type { BatchReport, EventTypeCounts, QualityCounts } from './report.ts';
export {
  FileReportStore,
  type ReportRange,
  type ReportStore,
  reportsDir,
  type StoredReport,
} from './report-store.ts';
export type { DimensionRef, Rule } from './rules.ts';
export { SINK_REJECTED_RULE, sinkRejection } from './sink-rejection.ts';
export { DEFAULT_SUITES, type Suites } from './suites.ts';
export * from './types.ts';
export { VerdictBoard, type VerdictBoardStats } from './verdict-board.ts';
export { VOLUME_RULE, type WindowReport, WindowReporter, type WindowReporterOptions } from './windows.ts';
