import type { Config } from '../config/index.ts';
import { BatchingProducer, createKafka, ensurePlatformTopics } from '../kafka/index.ts';
import type { GeneratedRecord } from './generate.ts';

type KafkaSinkConfig = Pick<
  Config,
  'kafkaBrokers' | 'kafkaClientId' | 'logLevel' | 'eventsTopic' | 'quarantineTopic' | 'eventsPartitions'
>;

/**
 * Produces chunks of generated records to the events topic (created if absent) and resolves once
 * Kafka acknowledged all of them. Small batches when paced slowly, so a live dashboard sees events
 * as they are made rather than when a large batch fills.
 */
export async function produceToKafka(
  chunks: AsyncIterable<GeneratedRecord[]>,
  cfg: KafkaSinkConfig,
  ratePerSecond?: number,
): Promise<number> {
  const kafka = createKafka(cfg, 'generator');
  await ensurePlatformTopics(kafka, cfg);
  const batchSize =
    ratePerSecond !== undefined && ratePerSecond < 20_000
      ? Math.max(1, Math.round(ratePerSecond / 20))
      : 5_000;
  const producer = new BatchingProducer(kafka, { topic: cfg.eventsTopic, batchSize });
  await producer.connect();
  try {
    for await (const chunk of chunks) {
      for (const r of chunk) await producer.push(r);
      // A paced chunk is everything due now: send it rather than wait for a full batch.
      if (ratePerSecond !== undefined) await producer.flush();
    }
  } finally {
    await producer.disconnect();
  }
  return producer.acknowledged;
}
