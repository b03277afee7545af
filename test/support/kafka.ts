import { randomUUID } from 'node:crypto';
import type { IHeaders, Kafka } from 'kafkajs';
import { parseQuarantineValue, sourceId } from '../../quality/quarantine/index.ts';

export interface ReceivedMessage {
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers?: IHeaders;
}

/** Reads `topic` from the beginning with a fresh group until `expected` messages arrived. */
export async function consumeAll(
  kafka: Kafka,
  topic: string,
  expected: number,
  timeoutMs = 60_000,
): Promise<ReceivedMessage[]> {
  const consumer = kafka.consumer({ groupId: `test-${randomUUID()}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const out: ReceivedMessage[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`received ${out.length} of ${expected} messages within ${timeoutMs} ms`)),
        timeoutMs,
      );
      void consumer
        .run({
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages) {
              out.push({
                partition: batch.partition,
                offset: m.offset,
                key: m.key,
                value: m.value,
                headers: m.headers,
              });
            }
            if (out.length >= expected) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/**
 * How many distinct source records the quarantine topic holds once `expected` messages arrived.
 * Quarantine is at least once (a range redone after a crash publishes its rejects again), so tests
 * count sources, not messages.
 */
export async function quarantinedSources(
  kafka: Kafka,
  topic: string,
  expected: number,
  timeoutMs?: number,
): Promise<number> {
  const messages = await consumeAll(kafka, topic, expected, timeoutMs);
  return new Set(
    messages.map((m) => {
      const q = parseQuarantineValue(m.value);
      return sourceId(q.sourceTopic, q.sourcePartition, q.sourceOffset);
    }),
  ).size;
}
