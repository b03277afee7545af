export {
  GATED_CONSUMER_DEFAULTS,
  GatedConsumer,
  type GatedConsumerOptions,
} from './consumer.ts';
export { deferredDelivery } from './deferred-delivery.ts';
export {
  type Delivery,
  type GroupFill,
  groupDelivery,
  Lane,
  MAX_GROUP_MEMBERS,
  type PartitionCommit,
  rangeDelivery,
} from './delivery.ts';
export { type PreparerRef, type ThreadedGatesOptions, threadedGates } from './gate-threads.ts';
export {
  type Gates,
  localGates,
  type PartitionGate,
  type Prepare,
  type PreparerFactory,
  type SharedGateOptions,
  type VerdictSharing,
} from './gates.ts';
export { fetchPositions, lagOf, type PartitionPosition } from './lag.ts';
export {
  dedupToken,
  type GroupMemberRange,
  groupToken,
  type OffsetRange,
  type PendingRange,
  parsePending,
  parseToken,
  pendingMetadata,
} from './offset-range.ts';
export type {
  ConsumerMetrics,
  DeferredSink,
  GatedRange,
  GroupMember,
  GroupSink,
  PartitionQuarantine,
  QuarantineTransactions,
  Sink,
  StagedGroup,
  Taken,
} from './sink.ts';
export { EventTimeWatermark } from './watermark.ts';
