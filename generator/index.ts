export { MAX_EVENT_BYTES } from '../contracts/index.ts';
export { BAD_KINDS, type BadKind } from './bad-records.ts';
export {
  FLASH_SALE_FACTOR,
  type GeneratedRecord,
  GenerateOptions,
  generate,
  MAX_DUPLICATE_DELAY,
  type RecordKind,
} from './generate.ts';
export { GroundTruth, type GroundTruthReport, type MinuteRegionOrders } from './ground-truth.ts';
export { writeNdjson } from './ndjson.ts';
export { paced } from './pace.ts';
export { produceToKafka } from './to-kafka.ts';
