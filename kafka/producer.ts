import type { CompressionTypes, Kafka, Producer, RecordMetadata } from 'kafkajs';
import { kafkajs } from './kafkajs.ts';

export interface OutgoingRecord {
  key: string | Buffer | null;
  value: Buffer | string;
  headers?: Record<string, string | Buffer>;
}

export interface BatchingProducerOptions {
  topic: string;
  /** Records per produce request; larger batches amortise request overhead. */
  batchSize?: number;
  /** Produce requests in flight at once. */
  maxInFlight?: number;
  /**
   * Idempotent producers to spread batches over. kafkajs lets an idempotent producer have one
   * request in flight per broker, so a single one leaves the CPU idle while it waits.
   */
  producers?: number;
  compression?: CompressionTypes;
}

/**
 * A producer that gathers records into batches and keeps a bounded number of requests in flight.
 * `send` resolves once its record's batch is acknowledged by all in-sync replicas; it waits (applies
 * backpressure) while `maxInFlight` batches are outstanding, so memory stays bounded however fast
 * the caller is. Idempotent mode makes broker-side retries free of duplicates. Batches go round-robin
 * over several producers, so the order of records is kept within a batch, not across batches.
 */
export class BatchingProducer {
  private readonly producers: Producer[];
  private next = 0;
  private readonly topic: string;
  private readonly batchSize: number;
  private readonly maxInFlight: number;
  private readonly compression: CompressionTypes;
  private pending: OutgoingRecord[] = [];
  private inFlight = new Set<Promise<unknown>>();
  private failure: unknown;
  private sent = 0;

  constructor(kafka: Kafka, opts: BatchingProducerOptions) {
    this.producers = Array.from({ length: opts.producers ?? 3 }, () =>
      kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        // Java-compatible murmur2: a key lands in the same partition whichever client produced it.
        createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
        // Idempotence needs unbounded retries: a send waits out a broker restart instead of failing.
        retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 5_000 },
      }),
    );
    this.topic = opts.topic;
    this.batchSize = opts.batchSize ?? 5_000;
    this.maxInFlight = opts.maxInFlight ?? 6;
    this.compression = opts.compression ?? kafkajs.CompressionTypes.LZ4;
  }

  async connect(): Promise<void> {
    await Promise.all(this.producers.map((p) => p.connect()));
  }

  /** Records acknowledged so far. */
  get acknowledged(): number {
    return this.sent;
  }

  /** Queues one record; resolves when it may be followed by more (not when it is acknowledged). */
  async push(record: OutgoingRecord): Promise<void> {
    this.throwIfFailed();
    this.pending.push(record);
    if (this.pending.length >= this.batchSize) await this.dispatch();
  }

  /** Sends what is queued and waits until every record pushed so far is acknowledged. */
  async flush(): Promise<void> {
    if (this.pending.length > 0) await this.dispatch();
    await Promise.all(this.inFlight);
    this.throwIfFailed();
  }

  /** Sends `records` as one request and resolves with the broker's acknowledgement. */
  async sendNow(records: OutgoingRecord[]): Promise<RecordMetadata[]> {
    const producer = this.producers[this.next++ % this.producers.length] as Producer;
    return producer.send({ topic: this.topic, messages: records, acks: -1, compression: this.compression });
  }

  async disconnect(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await Promise.all(this.producers.map((p) => p.disconnect()));
    }
  }

  private async dispatch(): Promise<void> {
    while (this.inFlight.size >= this.maxInFlight) await Promise.race(this.inFlight);
    this.throwIfFailed();
    const batch = this.pending;
    this.pending = [];
    const p = this.sendNow(batch).then(
      () => {
        this.sent += batch.length;
      },
      (err: unknown) => {
        this.failure ??= err;
      },
    );
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
