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
  private readonly batchSize: number;

  constructor(kafka: Kafka, opts: QuarantinePublisherOptions) {
    this.batchSize = opts.batchSize ?? 500;
    this.producer = new BatchingProducer(kafka, { topic: opts.topic });
  }

  async connect(): Promise<void> {
    await this.producer.connect();
  }

  /**
   * Resolves once Kafka has acknowledged every record (all in-sync replicas): only then may the
   * caller commit the source offsets of the batch these records came from.
   */
  async publish(records: readonly RejectedRecord[]): Promise<void> {
    // Each call sends and awaits its own requests: sinks of several partitions publish at once,
    // and a failed call (the broker was away) must fail that call alone, not every later one.
    const requests: Promise<unknown>[] = [];
    for (let i = 0; i < records.length; i += this.batchSize) {
      requests.push(this.producer.sendNow(records.slice(i, i + this.batchSize).map(encodeQuarantine)));
    }
    await Promise.all(requests);
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
