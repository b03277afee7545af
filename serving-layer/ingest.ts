// HTTP ingest: a request's records through the quality gate, accepted events to the events topic
// (keyed by userId, as every producer keys them, so a user stays in one partition) and rejected
// ones to quarantine. The answer waits for Kafka's acknowledgement of both: an event the client was
// told is accepted is in Kafka. A send Kafka does not acknowledge in time is answered 503; it may
// still land, and a client retry then writes it twice, which the consumers' eventId dedup absorbs.

import type { Dimensions } from '../contracts/index.ts';
import type { Kafka } from '../kafka/index.ts';
import { BatchingProducer, type OutgoingRecord, produceRequests } from '../kafka/index.ts';
import { createGate, type GateResult, QuarantinePublisher, type RawMessage } from '../quality/index.ts';
import { ApiError } from './errors.ts';

export interface IngestOptions {
  kafka: Kafka;
  eventsTopic: string;
  quarantineTopic: string;
  /** The dimensions each request is judged by: the newest the process holds. */
  dimensions: { readonly current: Dimensions };
  allowedLatenessMinutes: number;
  /** Largest body, in bytes (413 past it). */
  maxBodyBytes: number;
  /** How long to wait for Kafka's acknowledgement before answering 503. */
  timeoutMs: number;
}

/** Seconds a client is asked to wait after a 503. */
export const RETRY_AFTER_SECONDS = 5;
/** Records per produce request (fewer when they are large): a large body goes out as several requests in parallel. */
const SEND_CHUNK = 5_000;
/**
 * Requests whose records Kafka has not settled yet, timed-out ones included (the producer retries
 * them until the broker answers): past this many, new requests get 503 at once, so an outage
 * holds a bounded amount of data in memory.
 */
const MAX_UNSETTLED = 64;

export interface IngestAnswer {
  request: string;
  received: number;
  accepted: number;
  late: number;
  rejected: number;
  duplicates: number;
  rejections: { index: number; eventId?: string; rules: string[]; messages: string[] }[];
  duplicateRecords: { index: number; eventId: string }[];
}

const NEWLINE = 0x0a;

/** NDJSON lines as views of the body (no copies); blank lines are skipped. */
export function splitLines(body: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  while (start < body.length) {
    let end = body.indexOf(NEWLINE, start);
    if (end === -1) end = body.length;
    let last = end;
    while (last > start && (body[last - 1] === 0x0d || body[last - 1] === 0x20 || body[last - 1] === 0x09))
      last--;
    let first = start;
    while (first < last && (body[first] === 0x20 || body[first] === 0x09)) first++;
    if (last > first) lines.push(body.subarray(first, last));
    start = end + 1;
  }
  return lines;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const isSpace = (b: number | undefined) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/** `body[start, end)` without surrounding whitespace. */
function trimmed(body: Buffer, start: number, end: number): Buffer {
  while (start < end && isSpace(body[start])) start++;
  while (end > start && isSpace(body[end - 1])) end--;
  return body.subarray(start, end);
}

/**
 * The items of a JSON array body as views of its bytes, found by one pass that tracks strings and
 * nesting only (the body is known to be JSON): each item then goes through the gate as its bytes,
 * exactly as an NDJSON line does, however deep it nests.
 */
function arrayItems(body: Buffer): Buffer[] {
  const items: Buffer[] = [];
  let depth = 0;
  let start = -1;
  for (let i = 0; i < body.length; i++) {
    const b = body[i];
    if (b === QUOTE) {
      for (i++; body[i] !== QUOTE; i++) if (body[i] === BACKSLASH) i++;
    } else if (b === 0x5b || b === 0x7b) {
      if (++depth === 1) start = i + 1;
    } else if (b === 0x5d || b === 0x7d) {
      if (--depth === 0) {
        const last = trimmed(body, start, i);
        if (last.length > 0) items.push(last);
      }
    } else if (b === COMMA && depth === 1) {
      items.push(trimmed(body, start, i));
      start = i + 1;
    }
  }
  return items;
}

/**
 * A JSON body's records: an array's items, or the one object, each as its own bytes. The body is
 * checked to be JSON as a whole first (JSON.parse does not recurse, so any depth is safe): a body
 * that is not JSON is refused whole and nothing of it is produced.
 */
export function jsonRecords(body: Buffer): Buffer[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString());
  } catch (error) {
    throw new ApiError(400, 'malformed_json', `the body is not valid JSON: ${(error as Error).message}`);
  }
  if (Array.isArray(parsed)) return arrayItems(body);
  if (parsed !== null && typeof parsed === 'object') return [trimmed(body, 0, body.length)];
  throw new ApiError(
    400,
    'invalid_request',
    'the body must be one event (a JSON object), a JSON array of events or NDJSON',
  );
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Kafka did not acknowledge within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export class Ingestor {
  private readonly events: BatchingProducer;
  private readonly quarantine: QuarantinePublisher;
  private connected: Promise<void> | undefined;
  private unsettled = 0;

  constructor(readonly options: IngestOptions) {
    this.events = new BatchingProducer(options.kafka, { topic: options.eventsTopic });
    this.quarantine = new QuarantinePublisher(options.kafka, { topic: options.quarantineTopic });
  }

  /** Connects on first use, and again after a failed attempt. */
  private connect(): Promise<void> {
    this.connected ??= Promise.all([this.events.connect(), this.quarantine.connect()]).then(
      () => undefined,
      (error: unknown) => {
        this.connected = undefined;
        throw error;
      },
    );
    return this.connected;
  }

  /**
   * Gates and produces one request's records. A gate per request: duplicates are removed within
   * the request (the first copy wins), never across requests, so a client resending a batch after
   * a 503 is never refused what Kafka may not have.
   */
  async ingest(requestId: string, records: readonly Buffer[]): Promise<IngestAnswer> {
    const arrival = Date.now();
    const messages: RawMessage[] = records.map((value, index) => ({
      topic: `http/${requestId}`,
      partition: 0,
      offset: String(index),
      key: null,
      value,
      timestamp: arrival,
    }));
    const gate = createGate({
      dimensions: this.options.dimensions.current,
      allowedLatenessMinutes: this.options.allowedLatenessMinutes,
      dedupWindow: Math.max(1, messages.length),
    });
    const result = gate.run(messages);
    await this.produce(result);
    return answer(requestId, records.length, result);
  }

  private async produce(result: GateResult): Promise<void> {
    const accepted: OutgoingRecord[] = result.accepted.map((r) => ({
      key: r.event.userId,
      value: r.source.value as Buffer,
    }));
    const send = async () => {
      await this.connect();
      const sends: Promise<unknown>[] = [this.quarantine.publish(result.rejected)];
      for (const request of produceRequests(accepted, SEND_CHUNK)) sends.push(this.events.sendNow(request));
      // Settled only when every send is, so that `unsettled` counts what the producer still holds.
      const failed = (await Promise.allSettled(sends)).find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    };
    try {
      if (this.unsettled >= MAX_UNSETTLED)
        throw new Error(`${this.unsettled} earlier requests are still waiting for Kafka`);
      this.unsettled++;
      const sent = send();
      void sent.then(
        () => this.unsettled--,
        () => this.unsettled--,
      );
      await withTimeout(sent, this.options.timeoutMs);
    } catch (error) {
      throw new ApiError(
        503,
        'kafka_unavailable',
        `Kafka did not take the records (${(error as Error).message}); nothing in this request is acknowledged, send it again`,
        { retryAfterSeconds: RETRY_AFTER_SECONDS },
      );
    }
  }

  async close(): Promise<void> {
    if (!this.connected) return;
    await this.connected.catch(() => undefined);
    await Promise.allSettled([this.events.disconnect(), this.quarantine.disconnect()]);
  }
}

function answer(request: string, received: number, result: GateResult): IngestAnswer {
  return {
    request,
    received,
    accepted: result.accepted.length,
    late: result.accepted.reduce((n, r) => n + (r.late ? 1 : 0), 0),
    rejected: result.rejected.length,
    duplicates: result.duplicates,
    rejections: result.rejected.map((r) => ({
      index: Number(r.source.offset),
      ...(r.eventId === undefined ? {} : { eventId: r.eventId }),
      rules: r.failures.map((f) => f.ruleId),
      messages: r.failures.map((f) => f.message),
    })),
    duplicateRecords: result.duplicateRecords.map((d) => ({
      index: Number(d.source.offset),
      eventId: d.eventId,
    })),
  };
}
