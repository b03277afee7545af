// The quarantine topic's one publisher of what a consumer rejects: the rejections of the ranges an
// offset commit covers share a Kafka transaction with that commit (the lake writer's, once its lake
// commit holds the ranges; pipeline/deferred-delivery.ts), so a range redone after a crash or a
// rebalance publishes its rejections again only if the first attempt never committed (readers of
// the topic read committed records only). One transactional producer per source partition, its id
// named after the consumer group and partition: whoever owns the partition next opens a producer
// with the same id, which fences the previous owner's (its late commit fails) and ends its open
// transaction before the new owner reads where the partition stands.
import type { Kafka, Producer } from '../../kafka/index.ts';
import { javaCompatiblePartitioner, kafkajs, produceRequests } from '../../kafka/index.ts';
import type { PartitionQuarantine, QuarantineTransactions } from '../../pipeline/index.ts';
import { encodeQuarantine } from './message.ts';

export interface TransactionalQuarantineOptions {
  kafka: Kafka;
  /** The quarantine topic. */
  topic: string;
  /** The consumer group whose offsets the transactions commit. */
  groupId: string;
  /** The topic that group consumes. */
  sourceTopic: string;
  /** Records per produce request at most (fewer when they are large). */
  batchSize?: number;
}

/** The transactional id of `partition`'s publisher: one per group and source partition. */
export const quarantineTransactionalId = (groupId: string, partition: number): string =>
  `${groupId}.quarantine.${partition}`;

async function openProducer(kafka: Kafka, transactionalId: string): Promise<Producer> {
  const producer = kafka.producer({
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    // The platform's producers place keys alike (kafka/partitioner.ts).
    createPartitioner: javaCompatiblePartitioner,
  });
  await producer.connect();
  try {
    // kafkajs registers the transactional id with its first transaction: an empty one sends no
    // request but that registration, which is the fencing.
    await (await producer.transaction()).abort();
  } catch (error) {
    await producer.disconnect();
    throw error;
  }
  return producer;
}

export function transactionalQuarantine(options: TransactionalQuarantineOptions): QuarantineTransactions {
  const { kafka, topic, groupId, sourceTopic, batchSize = 500 } = options;
  return {
    async open(partition): Promise<PartitionQuarantine> {
      const producer = await openProducer(kafka, quarantineTransactionalId(groupId, partition));
      return {
        async commit(offset, records, lane) {
          const transaction = await producer.transaction();
          try {
            for (const messages of produceRequests(records.map(encodeQuarantine), batchSize)) {
              await transaction.send({
                topic,
                messages,
                acks: -1,
                compression: kafkajs.CompressionTypes.LZ4,
              });
            }
            // No metadata: the commit clears the range's announcement, as a plain commit would.
            await transaction.sendOffsets({
              consumerGroupId: groupId,
              topics: [{ topic: sourceTopic, partitions: [{ partition, offset: String(offset) }] }],
            });
            lane.check();
            await transaction.commit();
          } catch (error) {
            await transaction.abort().catch(() => undefined);
            throw error;
          }
        },
        close: () => producer.disconnect(),
      };
    },
  };
}
