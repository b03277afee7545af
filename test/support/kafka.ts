import { randomUUID } from 'node:crypto';
import type { IHeaders, Kafka } from '../../kafka/index.ts';
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
 * Every record `topic` holds, read committed (as the platform's readers do), once the reader has
 * passed the end each partition had when called: transaction markers and aborted records count
 * toward the end but are not returned.
 */
export async function readToEnd(kafka: Kafka, topic: string, timeoutMs = 60_000): Promise<ReceivedMessage[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map(
    (await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)] as const),
  );
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `test-${randomUUID()}`, maxWaitTimeInMs: 200 });
  const read = new Map<number, number>();
  const out: ReceivedMessage[] = [];
  const done = () =>
    [...ends].every(([partition, end]) => end === 0 || (read.get(partition) ?? -1) >= end - 1);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`did not read ${topic} to its end in ${timeoutMs} ms`)),
        timeoutMs,
      );
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        resolve();
      };
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        read.set(payload.partition, Math.max(read.get(payload.partition) ?? -1, Number(payload.lastOffset)));
        check();
      });
      check();
      void consumer
        .run({
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages)
              out.push({
                partition: batch.partition,
                offset: m.offset,
                key: m.key,
                value: m.value,
                headers: m.headers,
              });
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** The source id of each message of a quarantine topic, read to its end. */
export async function quarantinedSources(kafka: Kafka, topic: string, timeoutMs?: number): Promise<string[]> {
  return (await readToEnd(kafka, topic, timeoutMs)).map((m) => {
    const q = parseQuarantineValue(m.value);
    return sourceId(q.sourceTopic, q.sourcePartition, q.sourceOffset);
  });
}
