import type { Kafka } from 'kafkajs';
import { BatchingProducer } from '../../kafka/index.ts';
import type { RejectedRecord } from '../types.ts';
import { encodeQuarantine } from './message.ts';

export interface QuarantinePublisherOptions {
  topic: string;
  /** Records per produce request: rejected records carry whole originals, so keep requests modest. */
  batchSize?: number;
}

/** Sends rejected records to the quarantine topic. */
export class QuarantinePublisher {
  private readonly producer: BatchingProducer;

  constructor(kafka: Kafka, opts: QuarantinePublisherOptions) {
    this.producer = new BatchingProducer(kafka, { topic: opts.topic, batchSize: opts.batchSize ?? 500 });
  }

  async connect(): Promise<void> {
    await this.producer.connect();
  }

  /**
   * Resolves once Kafka has acknowledged every record (all in-sync replicas): only then may the
   * caller commit the source offsets of the batch these records came from.
   */
  async publish(records: readonly RejectedRecord[]): Promise<void> {
    for (const record of records) await this.producer.push(encodeQuarantine(record));
    await this.producer.flush();
  }

  /**
   * One produce request for `records`, resolved once Kafka acknowledged it. Unlike `publish`, a
   * failure belongs to this call alone, so a long-lived caller (HTTP ingest) can answer it and go on.
   */
  async send(records: readonly RejectedRecord[]): Promise<void> {
    if (records.length > 0) await this.producer.sendNow(records.map(encodeQuarantine));
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
  }
}
