// The CDC bridge: reads the connector's change events and produces `inventory.update` events to the
// events topic, where the speed layer and the lake writer gate them like any other. Offsets are
// committed after Kafka acknowledged what a batch produced; a bridge that dies in between produces
// the batch again, with the same eventIds (change-event.ts), and the gate drops the copies.
import type { Config } from '../config/index.ts';
import {
  createKafka,
  ensurePlatformTopics,
  ensureTopics,
  javaCompatiblePartitioner,
  type LogSink,
} from '../kafka/index.ts';
import { bridgeRecord } from './change-event.ts';

export type CdcBridgeConfig = Pick<
  Config,
  | 'kafkaBrokers'
  | 'kafkaClientId'
  | 'logLevel'
  | 'eventsTopic'
  | 'quarantineTopic'
  | 'eventsPartitions'
  | 'cdcConnector'
  | 'cdcTable'
  | 'cdcGroup'
>;

/** The topic Debezium writes the table's changes to: `<topic.prefix>.<schema>.<table>`. */
export const cdcTopic = (cfg: Pick<Config, 'cdcConnector' | 'cdcTable'>): string =>
  `${cfg.cdcConnector}.${cfg.cdcTable}`;

export interface CdcBridge {
  /** Change messages read, and records produced to the events topic. */
  readonly counts: { read: number; produced: number };
  stop(): Promise<void>;
}

/**
 * Starts the bridge; it runs until `stop`. One partition of change events (the connector's topic
 * has one, as a replication slot is one stream) keeps every change in the database's commit order.
 */
export async function startCdcBridge(cfg: CdcBridgeConfig, log?: LogSink): Promise<CdcBridge> {
  const kafka = createKafka(cfg, 'cdc', log);
  await ensurePlatformTopics(kafka, cfg);
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, [{ topic: cdcTopic(cfg), numPartitions: 1, replicationFactor: -1 }]);
  } finally {
    await admin.disconnect();
  }
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    // The platform's producers place keys alike (kafka/partitioner.ts).
    createPartitioner: javaCompatiblePartitioner,
  });
  const consumer = kafka.consumer({ groupId: cfg.cdcGroup });
  const counts = { read: 0, produced: 0 };
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topic: cdcTopic(cfg), fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      const messages = [];
      for (const message of batch.messages) {
        const record = bridgeRecord(message.key, message.value);
        if (record !== undefined) messages.push(record);
      }
      if (messages.length > 0) await producer.send({ topic: cfg.eventsTopic, acks: -1, messages });
      const last = batch.messages.at(-1);
      if (last === undefined) return;
      await consumer.commitOffsets([
        { topic: batch.topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() },
      ]);
      resolveOffset(last.offset);
      counts.read += batch.messages.length;
      counts.produced += messages.length;
      await heartbeat();
    },
  });
  return {
    counts,
    async stop() {
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
}
