import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config/index.ts';
import { BatchingProducer, createKafka, ensurePlatformTopics } from '../kafka/index.ts';
import type { GeneratedRecord } from './generate.ts';

type KafkaSinkConfig = Pick<
  Config,
  'kafkaBrokers' | 'kafkaClientId' | 'logLevel' | 'eventsTopic' | 'quarantineTopic' | 'eventsPartitions'
>;

/**
 * How long a paced send waits, from its start, before the next: the `linger.ms` default of Kafka's
 * Java producer (since 4.0) and of librdkafka, so the generator's batches are shaped as theirs are.
 * Sending each chunk as soon as the last was acknowledged made a request every ~3 ms at 50,000
 * events/s (frames of ~27 records): the generator took 0.86-0.89 core and the broker 0.18-0.25 on
 * the 2-core machine, where the soak runs them beside the platform; with the linger 0.55-0.74 and
 * 0.11-0.14 (docs/soak.md).
 */
const PACED_LINGER_MS = 5;

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
      const sending = performance.now();
      for (const r of chunk) await producer.push(r);
      if (ratePerSecond === undefined) continue;
      // A paced chunk is everything due now: send it rather than wait for a full batch, and let the
      // next gather what comes due during the linger.
      await producer.flush();
      const linger = PACED_LINGER_MS - (performance.now() - sending);
      if (linger > 0) await sleep(linger);
    }
  } finally {
    await producer.disconnect();
  }
  return producer.acknowledged;
}
