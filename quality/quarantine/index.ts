export type { QuarantineFilter } from './filter.ts';
export { type LedgerEntry, ReplayLedger } from './ledger.ts';
export {
  decodeQuarantine,
  encodeQuarantine,
  MAX_QUARANTINED_BYTES,
  MAX_TIME_MS,
  parseQuarantineValue,
  QuarantineMessage,
  quarantineKey,
  sourceId,
} from './message.ts';
export { QuarantinePublisher, type QuarantinePublisherOptions } from './publisher.ts';
export {
  gateValidator,
  type ReplayCounts,
  type ReplayOptions,
  type ReplayProgress,
  type ReplayRunOptions,
  replayQuarantine,
  replayWithCurrentRules,
  type ValidationResult,
  type Validator,
} from './replay.ts';
export {
  type QuarantinedRecord,
  type QuarantineListItem,
  type QuarantineRows,
  QuarantineStore,
  type QuarantineSummary,
  renderOriginal,
  toRawMessage,
} from './store.ts';
export {
  quarantineTransactionalId,
  type TransactionalQuarantineOptions,
  transactionalQuarantine,
} from './transactions.ts';
