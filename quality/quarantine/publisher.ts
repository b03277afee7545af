import type { Kafka } from '../../kafka/index.ts';
import { BatchingProducer, produceRequests } from '../../kafka/index.ts';
import type { RejectedRecord } from '../types.ts';
import { encodeQuarantine } from './message.ts';

export interface QuarantinePublisherOptions {
  topic: string;
  /** Records per produce request: rejected records carry whole originals, so keep requests modest. */
  batchSize?: number;
}

/** Sends rejected records to the quarantine topic (HTTP ingest's rejections). */
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
   * Resolves once Kafka has acknowledged every record (all in-sync replicas). Each call sends and
   * awaits its own requests: a failed call (the broker was away) fails that call alone, so a
   * long-lived caller (HTTP ingest) can answer it and go on.
   */
  async publish(records: readonly RejectedRecord[]): Promise<void> {
    const requests = produceRequests(records.map(encodeQuarantine), this.batchSize);
    await Promise.all(requests.map((request) => this.producer.sendNow(request)));
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
  }
}
