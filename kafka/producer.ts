import type { CompressionTypes, Kafka, Producer, RecordMetadata } from 'kafkajs';
import { kafkajs } from './kafkajs.ts';
import { javaCompatiblePartitioner } from './partitioner.ts';

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
 * A broker refuses a produce request whose batch for one partition is over its `message.max.bytes`
 * (1 MB by default), whatever the client's batch size: requests of records of any size stay below
 * this many bytes of keys and values.
 */
export const MAX_REQUEST_BYTES = 512 * 1024;

const sizeOf = (part: string | Buffer | null): number =>
  part === null ? 0 : typeof part === 'string' ? Buffer.byteLength(part) : part.byteLength;

/**
 * `records` cut, in order, into requests of at most `maxRecords` records and MAX_REQUEST_BYTES bytes
 * (a record larger than that goes alone).
 */
export function produceRequests(records: readonly OutgoingRecord[], maxRecords: number): OutgoingRecord[][] {
  const requests: OutgoingRecord[][] = [];
  let request: OutgoingRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = sizeOf(record.key) + sizeOf(record.value);
    if (request.length > 0 && (request.length >= maxRecords || bytes + size > MAX_REQUEST_BYTES)) {
      requests.push(request);
      request = [];
      bytes = 0;
    }
    request.push(record);
    bytes += size;
  }
  if (request.length > 0) requests.push(request);
  return requests;
}

/**
 * A producer that gathers records into batches and keeps a bounded number of requests in flight.
 * `send` resolves once its record's batch is acknowledged by all in-sync replicas; it waits (applies
 * backpressure) while `maxInFlight` batches are outstanding, so memory stays bounded however fast
 * the caller is. Idempotent mode makes broker-side retries free of duplicates. Batches go round-robin
 * over several producers, so the order of records is kept within a batch, not across batches.
 * A failed batch leaves a hole in what was pushed, so it fails every later `push` and `flush`;
 * `sendNow` answers for its own records only, so its callers may try again after a failure.
 */
export class BatchingProducer {
  private readonly kafka: Kafka;
  /** Connected producers, each replaced by a fresh one after a failed send (see sendNow). */
  private readonly producers: Promise<Producer>[] = [];
  private readonly producerCount: number;
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
    this.kafka = kafka;
    this.producerCount = opts.producers ?? 3;
    this.topic = opts.topic;
    this.batchSize = opts.batchSize ?? 5_000;
    this.maxInFlight = opts.maxInFlight ?? 6;
    this.compression = opts.compression ?? kafkajs.CompressionTypes.LZ4;
  }

  async connect(): Promise<void> {
    while (this.producers.length < this.producerCount) this.producers.push(this.open());
    await Promise.all(this.producers);
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
    const slot = this.next++ % this.producers.length;
    const opened = this.producers[slot] as Promise<Producer>;
    try {
      const producer = await opened;
      return await producer.send({
        topic: this.topic,
        messages: records,
        acks: -1,
        compression: this.compression,
      });
    } catch (err) {
      // kafkajs hands a failed batch's sequence numbers to the next batch, but the broker may have
      // appended the failed one (only its answer was lost): a next batch of the same size would then
      // be dropped as its duplicate. A fresh producer (a new producer id) sends on instead.
      if (this.producers[slot] === opened) this.producers[slot] = this.reopen(opened);
      throw err;
    }
  }

  async disconnect(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await Promise.all(this.producers.map((p) => this.close(p)));
    }
  }

  /** A new idempotent producer, connected; a failure to connect is reported by the send awaiting it. */
  private open(): Promise<Producer> {
    const producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // A key lands in the same partition whichever client produced it.
      createPartitioner: javaCompatiblePartitioner,
      // Idempotence wants unbounded retries; the client's retry budget still bounds how long a
      // send waits for an absent broker (see createKafka).
      retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 5_000 },
    });
    const opened = producer.connect().then(
      () => producer,
      async (err: unknown) => {
        await producer.disconnect().catch(() => undefined);
        throw err;
      },
    );
    opened.catch(() => undefined);
    return opened;
  }

  private async reopen(failed: Promise<Producer>): Promise<Producer> {
    await this.close(failed);
    return this.open();
  }

  private async close(opened: Promise<Producer>): Promise<void> {
    const producer = await opened.catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
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
