// kafkajs's types, for code outside kafka/ (which may not import kafkajs itself: kafkajs.ts must
// install its replacements before kafkajs loads).
export type {
  Admin,
  Consumer,
  EachBatchPayload,
  IHeaders,
  Kafka,
  KafkaMessage,
  OffsetsByTopicPartition,
  PartitionOffset,
  Producer,
} from 'kafkajs';
export { createKafka, type KafkaConfig } from './client.ts';
export { type FetchedRecord, type FetchedRecords, fetchedRecords } from './fetched-records.ts';
export { checkGroupServes, GroupInUseError } from './groups.ts';
export { kafkajs } from './kafkajs.ts';
export type { Level as LogLevel, LogSink } from './log.ts';
export { javaCompatiblePartitioner } from './partitioner.ts';
export { type Greeting, isListening, parseHostPort } from './probe.ts';
export {
  BatchingProducer,
  type BatchingProducerOptions,
  MAX_REQUEST_BYTES,
  type OutgoingRecord,
  produceRequests,
} from './producer.ts';
export { rerunAfterCrash } from './rerun.ts';
export {
  ensurePlatformTopics,
  ensureTopics,
  eventsPartitionsWarning,
  platformTopics,
  type TopicConfig,
} from './topics.ts';
