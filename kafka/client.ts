import type { Kafka as KafkaClient } from 'kafkajs';
import { compressFrameSync } from 'lz4-napi';
import type { Config } from '../config/index.ts';
import { kafkajs } from './kafkajs.ts';
import { kafkajsLevel, kafkaLogCreator, type LogSink } from './log.ts';
import { decompressLz4Frame } from './lz4.ts';

const { CompressionCodecs, CompressionTypes, Kafka } = kafkajs;

// kafkajs ships only gzip. LZ4 is the frame format, as Kafka expects. Frames compress on the event
// loop: lz4-napi's async encoder makes the same bytes for 2-4 times the CPU (measured: 64-86
// against 26-30 µs for a frame of 27 events, 6.7 against 1.5 ms for a megabyte), which producers
// at 50,000 events/s pay on ~1,000-2,000 frames a second. Frames decompress on the event loop too,
// block by block (lz4.ts says why).
CompressionCodecs[CompressionTypes.LZ4] = () => ({
  compress: async (encoder: { buffer: Buffer }) => compressFrameSync(encoder.buffer),
  decompress: async (buffer: Buffer) => decompressLz4Frame(buffer),
});

export type KafkaConfig = Pick<Config, 'kafkaBrokers' | 'kafkaClientId' | 'logLevel'>;

/**
 * How long every client operation (connecting, refreshing metadata, finding a coordinator) keeps
 * retrying an absent broker: waits of 0.3, 0.6, 1.2, 2.4, 4.8 s then 5 s, about a minute in all,
 * so a broker restart is ridden out and a broker that stays down still fails the caller. kafkajs
 * gives up on an operation whose inner retries ran out, however many retries the outer one has
 * left (an idempotent producer's included), so this budget bounds them all. `maxRetryTime` is
 * explicit because kafkajs caps waits at 1 s when NODE_ENV is `test`.
 */
const KAFKA_RETRY = { initialRetryTime: 300, maxRetryTime: 5_000, retries: 15 };

/**
 * A kafkajs client for one role of the platform (`speed`, `lake`, `generator`, ...); its log lines
 * go to the console unless `log` takes them.
 */
export function createKafka(cfg: KafkaConfig, role: string, log?: LogSink): KafkaClient {
  return new Kafka({
    clientId: `${cfg.kafkaClientId}-${role}`,
    brokers: cfg.kafkaBrokers,
    logLevel: kafkajsLevel(cfg.logLevel),
    logCreator: kafkaLogCreator(cfg.logLevel, log),
    connectionTimeout: 3_000,
    retry: KAFKA_RETRY,
  });
}
