import type { Kafka as KafkaClient, logLevel as LogLevel } from 'kafkajs';
import { compressFrame, decompressFrame } from 'lz4-napi';
import type { Config } from '../config/index.ts';
import { kafkajs } from './kafkajs.ts';

const { CompressionCodecs, CompressionTypes, Kafka, logLevel } = kafkajs;

// kafkajs ships only gzip. LZ4 (frame format, as Kafka expects) compresses on libuv's thread pool,
// so the event loop keeps producing while the other core compresses.
CompressionCodecs[CompressionTypes.LZ4] = () => ({
  compress: (encoder: { buffer: Buffer }) => compressFrame(encoder.buffer),
  decompress: (buffer: Buffer) => decompressFrame(buffer),
});

const levels: Record<Config['logLevel'], LogLevel> = {
  fatal: logLevel.ERROR,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.WARN,
  debug: logLevel.INFO,
  trace: logLevel.DEBUG,
  silent: logLevel.NOTHING,
};

export type KafkaConfig = Pick<Config, 'kafkaBrokers' | 'kafkaClientId' | 'logLevel'>;

/** A kafkajs client for one role of the platform (`speed`, `lake`, `generator`, ...). */
export function createKafka(cfg: KafkaConfig, role: string): KafkaClient {
  return new Kafka({
    clientId: `${cfg.kafkaClientId}-${role}`,
    brokers: cfg.kafkaBrokers,
    logLevel: levels[cfg.logLevel],
    connectionTimeout: 3_000,
    retry: { initialRetryTime: 100, retries: 8 },
  });
}
