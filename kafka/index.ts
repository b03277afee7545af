export { createKafka, type KafkaConfig } from './client.ts';
export { kafkajs } from './kafkajs.ts';
export type { Level as LogLevel, LogSink } from './log.ts';
export { type Greeting, isListening, parseHostPort } from './probe.ts';
export { BatchingProducer, type BatchingProducerOptions, type OutgoingRecord } from './producer.ts';
export { rerunAfterCrash } from './rerun.ts';
export { ensurePlatformTopics, ensureTopics, platformTopics, type TopicConfig } from './topics.ts';
