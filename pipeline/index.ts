export {
  GATED_CONSUMER_DEFAULTS,
  GatedConsumer,
  type GatedConsumerOptions,
} from './consumer.ts';
export { fetchPositions, lagOf, type PartitionPosition } from './lag.ts';
export { dedupToken, type OffsetRange, parsePending, parseToken, pendingMetadata } from './offset-range.ts';
export type { ConsumerMetrics, Sink } from './sink.ts';
export { EventTimeWatermark } from './watermark.ts';
