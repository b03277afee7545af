/*
 * A fetch's records, indexed on arrival and made into objects only when a consumer takes them.
 *
 * kafkajs decodes every record of a fetch into objects as the response arrives (~0.5 KB of heap
 * each, with the pipeline's own). The speed layer fetches up to 24 MB a round and holds it for the
 * seconds its ranges take to reach ClickHouse, so ~190,000 records survived a dozen scavenges and
 * were copied twice each: half a core of the soak's two went to V8's scavenger (docs/soak.md).
 *
 * Here a fetched partition keeps its record batches as bytes (decompressed once), and its Batch
 * gets typed arrays of where each record's offset, timestamp, key and value lie: no object per
 * record until `FetchedRecords.slice` makes a range's, just before its gate. kafkajs itself reads
 * a batch's `messages` only for its length and last offset (and a consumer's eachMessage iterates
 * it), so `messages` and its siblings are lists that decode a record when one is asked for, with
 * kafkajs's own record decoder: every consumer sees what kafkajs would have shown it.
 *
 * Anything unusual (a legacy message set, an offset or timestamp past 2^53, a record that does not
 * parse) takes kafkajs's own path, which decodes or fails as it always did.
 */

/** A record as the pipeline takes it: where it is, its bytes, the broker's timestamp in ms. */
export interface FetchedRecord {
  topic: string;
  partition: number;
  /** Decimal, as kafkajs carries offsets. */
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: number;
}

/** A batch's visible records (from the fetched offset, aborted and control records left out). */
export interface FetchedRecords {
  readonly length: number;
  offset(index: number): number;
  /** Records [from, to) as objects, made now. */
  slice(from: number, to: number): FetchedRecord[];
}

/** kafkajs's Decoder, as far as it is used here. */
export interface KafkaDecoder {
  buffer: Buffer;
  offset: number;
  canReadBytes(length: number): boolean;
}
type DecoderClass = new (buffer: Buffer) => KafkaDecoder;
type Codec = { decompress(buffer: Buffer): Promise<Buffer> };
type KafkaMessage = { offset: string; key?: Buffer | null; timestamp: string };
export type DecodeMessages = (decoder: KafkaDecoder) => Promise<unknown>;

/** One record batch of a fetch: its records' bytes and what kafkajs's decoder needs to read them. */
interface RecordBatchBytes {
  /** The records, decompressed: each a varint length and the record. */
  records: Buffer;
  count: number;
  firstOffset: number;
  firstTimestamp: number;
  /** The broker's time for every record (LogAppendTime), or undefined (CreateTime). */
  appendTime: number | undefined;
  producerId: string;
  inTransaction: boolean;
  isControl: boolean;
  /** The batch context kafkajs's record decoder takes. */
  context: Record<string, unknown>;
}

/** What the fetch response holds for a partition in place of decoded records. */
export class FetchedBatches {
  constructor(readonly batches: readonly RecordBatchBytes[]) {}
}

const MAGIC_V2 = 2;
const HEADER_BYTES = 61;
const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;
const LOG_APPEND_TIME_FLAG = 0x8;
const LOG_APPEND_TIME = 1;
const CREATE_TIME = 0;

/**
 * kafkajs's decodeMessages (fetch v4 and later), keeping v2 record batches as bytes. `original`
 * decodes everything else, and any partition with a number a double cannot hold.
 */
export function decodeMessagesLazily(
  original: DecodeMessages,
  codecOf: (attributes: number) => Codec | null,
): DecodeMessages {
  return async (decoder) => {
    const { buffer, offset: start } = decoder;
    if (!decoder.canReadBytes(4)) return original(decoder);
    const size = buffer.readInt32BE(start);
    const end = start + 4 + size;
    if (size < HEADER_BYTES || end > buffer.length || buffer.readInt8(start + 4 + 16) !== MAGIC_V2)
      return original(decoder);
    const batches: RecordBatchBytes[] = [];
    for (let p = start + 4; p + 12 <= end; ) {
      const length = buffer.readInt32BE(p + 8);
      const batchEnd = p + 12 + length;
      // The tail of a fetch may hold part of a batch (how max bytes works): kafkajs drops it too.
      if (length < HEADER_BYTES - 12 || batchEnd > end) break;
      if (buffer.readInt8(p + 16) !== MAGIC_V2) return original(decoder);
      const firstOffset = buffer.readBigInt64BE(p);
      const attributes = buffer.readInt16BE(p + 21);
      const firstTimestamp = buffer.readBigInt64BE(p + 27);
      const maxTimestamp = buffer.readBigInt64BE(p + 35);
      const producerId = buffer.readBigInt64BE(p + 43).toString();
      const count = buffer.readInt32BE(p + 57);
      if (![firstOffset, firstTimestamp, maxTimestamp].every(isSafe)) return original(decoder);
      const codec = codecOf(attributes);
      const body = buffer.subarray(p + HEADER_BYTES, batchEnd);
      const records = codec && count > 0 ? await codec.decompress(body) : body;
      const inTransaction = (attributes & TRANSACTIONAL) !== 0;
      const isControl = (attributes & CONTROL) !== 0;
      const appendTime = (attributes & LOG_APPEND_TIME_FLAG) !== 0;
      batches.push({
        records,
        count: Math.max(count, 0),
        firstOffset: Number(firstOffset),
        firstTimestamp: Number(firstTimestamp),
        // kafkajs gives every record of a LogAppendTime batch the batch's max timestamp.
        appendTime: appendTime ? Number(maxTimestamp) : undefined,
        producerId,
        inTransaction,
        isControl,
        context: {
          firstOffset: firstOffset.toString(),
          firstTimestamp: firstTimestamp.toString(),
          partitionLeaderEpoch: buffer.readInt32BE(p + 12),
          inTransaction,
          isControlBatch: isControl,
          lastOffsetDelta: buffer.readInt32BE(p + 23),
          producerId,
          producerEpoch: buffer.readInt16BE(p + 51),
          firstSequence: buffer.readInt32BE(p + 53),
          maxTimestamp: maxTimestamp.toString(),
          timestampType: appendTime ? LOG_APPEND_TIME : CREATE_TIME,
          magicByte: MAGIC_V2,
        },
      });
      p = batchEnd;
    }
    decoder.offset = end;
    return new FetchedBatches(batches);
  };
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const isSafe = (n: bigint): boolean => n <= MAX_SAFE && n >= -MAX_SAFE;

/** Where each record of a partition's fetch lies, and which ones a consumer sees. */
interface RecordIndex {
  /** Records in the fetch. */
  raw: number;
  /** The first one at or past the fetched offset. */
  withinFrom: number;
  /** Indexes of the records a consumer sees, in order. */
  visible: Int32Array;
  batchOf: Int32Array;
  /** A record's bytes (after its length) and its key's and value's, in its batch's records. */
  starts: Int32Array;
  ends: Int32Array;
  keys: Int32Array;
  keyLengths: Int32Array;
  values: Int32Array;
  valueLengths: Int32Array;
  offsets: Float64Array;
  timestamps: Float64Array;
}

/** The reader's position in the buffer being indexed (one fetch is indexed at a time, synchronously). */
let at = 0;

/** A zigzag varint as a number, or NaN past 2^53. */
function readVarint(buffer: Buffer): number {
  let value = 0;
  let scale = 1;
  let byte: number;
  do {
    byte = buffer[at++] as number;
    if (byte === undefined) return Number.NaN;
    value += (byte & 127) * scale;
    scale *= 128;
  } while (byte >= 128);
  if (value > Number.MAX_SAFE_INTEGER) return Number.NaN;
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
}

interface AbortedTransaction {
  producerId: string;
  firstOffset: string;
}

/**
 * Indexes a partition's fetch as kafkajs's Batch filters it: records before the fetched offset
 * dropped, then those of aborted transactions (as `filterAbortedMessages` in kafkajs.ts decides)
 * and control records. Undefined where a record does not parse as a plain one: kafkajs decodes it.
 */
function indexRecords(
  { batches }: FetchedBatches,
  fetchedOffset: number,
  abortedTransactions: readonly AbortedTransaction[],
): RecordIndex | undefined {
  let raw = 0;
  for (const batch of batches) raw += batch.count;
  const index: RecordIndex = {
    raw,
    withinFrom: raw,
    visible: new Int32Array(raw),
    batchOf: new Int32Array(raw),
    starts: new Int32Array(raw),
    ends: new Int32Array(raw),
    keys: new Int32Array(raw),
    keyLengths: new Int32Array(raw),
    values: new Int32Array(raw),
    valueLengths: new Int32Array(raw),
    offsets: new Float64Array(raw),
    timestamps: new Float64Array(raw),
  };
  const starts = [...abortedTransactions].sort((a, b) => Number(a.firstOffset) - Number(b.firstOffset));
  let nextStart = 0;
  const aborting = new Set<string>();
  let visible = 0;
  let i = 0;
  for (let b = 0; b < batches.length; b++) {
    const batch = batches[b] as RecordBatchBytes;
    const { records } = batch;
    at = 0;
    for (let r = 0; r < batch.count; r++, i++) {
      const length = readVarint(records);
      const start = at;
      const end = start + length;
      if (!(length > 0) || end > records.length) return undefined;
      at++; // attributes
      const timestampDelta = readVarint(records);
      const offsetDelta = readVarint(records);
      const keyLength = readVarint(records);
      const key = at;
      if (keyLength > 0) at += keyLength;
      const valueLength = readVarint(records);
      const value = at;
      if (valueLength > 0) at += valueLength;
      const offset = batch.firstOffset + offsetDelta;
      const timestamp = batch.appendTime ?? batch.firstTimestamp + timestampDelta;
      if (
        !(keyLength >= -1) ||
        !(valueLength >= -1) ||
        at > end ||
        !Number.isSafeInteger(offset) ||
        !Number.isSafeInteger(timestamp)
      )
        return undefined;
      index.batchOf[i] = b;
      index.starts[i] = start;
      index.ends[i] = end;
      index.keys[i] = key;
      index.keyLengths[i] = keyLength;
      index.values[i] = value;
      index.valueLengths[i] = valueLength;
      index.offsets[i] = offset;
      index.timestamps[i] = timestamp;
      at = end;
      if (offset < fetchedOffset) continue;
      if (index.withinFrom === raw) index.withinFrom = i;
      for (
        let s = starts[nextStart];
        s !== undefined && Number(s.firstOffset) <= offset;
        s = starts[++nextStart]
      )
        aborting.add(s.producerId);
      if (batch.isControl) {
        // A control record's key: int16 version, int16 type; type 0 ends a transaction by aborting.
        if (keyLength >= 4 && records.readInt16BE(key + 2) === 0) aborting.delete(batch.producerId);
        continue;
      }
      if (batch.inTransaction && aborting.has(batch.producerId)) continue;
      index.visible[visible++] = i;
    }
  }
  index.visible = index.visible.subarray(0, visible);
  return index;
}

/**
 * A list of `length` items made on demand (and kept): kafkajs reads a batch's first and last
 * messages and its length, which costs two records; anything else makes the whole list.
 */
function lazyList<T extends object>(length: number, item: (i: number) => T): T[] {
  let all: T[] | undefined;
  let first: T | undefined;
  let last: T | undefined;
  const whole = (): T[] => {
    all ??= Array.from({ length }, (_, i) =>
      i === 0 && first ? first : i === length - 1 && last ? last : item(i),
    );
    return all;
  };
  const lastKey = String(length - 1);
  return new Proxy([] as T[], {
    get(_target, property) {
      if (all === undefined) {
        if (property === 'length') return length;
        if (property === '0' && length > 0) {
          first ??= item(0);
          return first;
        }
        if (property === lastKey && length > 0) {
          last ??= item(length - 1);
          return last;
        }
      }
      return Reflect.get(whole(), property);
    },
    // Anything else works on the whole list, made once: a consumer may even change it.
    has: (_target, property) => Reflect.has(whole(), property),
    ownKeys: () => Reflect.ownKeys(whole()),
    getOwnPropertyDescriptor: (_target, property) => Reflect.getOwnPropertyDescriptor(whole(), property),
    set: (_target, property, value) => Reflect.set(whole(), property, value),
    defineProperty: (_target, property, descriptor) => Reflect.defineProperty(whole(), property, descriptor),
    deleteProperty: (_target, property) => Reflect.deleteProperty(whole(), property),
  });
}

/** The visible records of an indexed fetch. */
class IndexedRecords implements FetchedRecords {
  constructor(
    private readonly topic: string,
    private readonly partition: number,
    private readonly batches: readonly RecordBatchBytes[],
    private readonly index: RecordIndex,
  ) {}

  get length(): number {
    return this.index.visible.length;
  }

  offset(i: number): number {
    return this.index.offsets[this.index.visible[i] as number] as number;
  }

  slice(from: number, to: number): FetchedRecord[] {
    const { topic, partition, batches, index } = this;
    const end = Math.min(to, index.visible.length);
    const out: FetchedRecord[] = new Array(Math.max(end - from, 0));
    for (let j = from; j < end; j++) {
      const i = index.visible[j] as number;
      const { records } = batches[index.batchOf[i] as number] as RecordBatchBytes;
      out[j - from] = {
        topic,
        partition,
        offset: String(index.offsets[i]),
        key: bytesAt(records, index.keys[i] as number, index.keyLengths[i] as number),
        value: bytesAt(records, index.values[i] as number, index.valueLengths[i] as number),
        timestamp: index.timestamps[i] as number,
      };
    }
    return out;
  }
}

const bytesAt = (records: Buffer, start: number, length: number): Buffer | null =>
  length < 0 ? null : records.subarray(start, start + length);

/** The records of kafkajs's messages, for batches kafkajs decoded itself. */
class DecodedRecords implements FetchedRecords {
  constructor(
    private readonly topic: string,
    private readonly partition: number,
    private readonly messages: readonly KafkaMessage[],
  ) {}

  get length(): number {
    return this.messages.length;
  }

  offset(i: number): number {
    return Number((this.messages[i] as KafkaMessage).offset);
  }

  slice(from: number, to: number): FetchedRecord[] {
    return this.messages.slice(from, to).map((m) => ({
      topic: this.topic,
      partition: this.partition,
      offset: m.offset,
      key: m.key ?? null,
      value: (m as { value?: Buffer | null }).value ?? null,
      timestamp: Number(m.timestamp),
    }));
  }
}

const RECORDS = Symbol('fetched records');

/** A kafkajs Batch's visible records, without decoding those of an indexed fetch. */
export function fetchedRecords(batch: {
  topic: string;
  partition: number;
  messages: readonly KafkaMessage[];
}): FetchedRecords {
  return (
    (batch as { [RECORDS]?: FetchedRecords })[RECORDS] ??
    new DecodedRecords(batch.topic, batch.partition, batch.messages)
  );
}

export interface PartitionData {
  partition: number;
  highWatermark: string;
  abortedTransactions?: unknown[];
  messages: unknown;
}

/** kafkajs's record decoder and Decoder, to make a record into the message kafkajs would make. */
export interface RecordReading {
  Decoder: DecoderClass;
  decodeRecord(decoder: KafkaDecoder, context: Record<string, unknown>): unknown;
}

/**
 * Fills a kafkajs Batch (`target`, of kafkajs's own class) from an indexed fetch: its records as
 * lazy lists and typed arrays. False when the fetch does not index; the caller then hands kafkajs
 * the records decoded (`decodeAll`).
 */
export function fillIndexedBatch(
  target: Record<string | symbol, unknown>,
  topic: string,
  fetchedOffset: number,
  data: PartitionData & { messages: FetchedBatches },
  reading: RecordReading,
): boolean {
  const { batches } = data.messages;
  const index = indexRecords(
    data.messages,
    fetchedOffset,
    (data.abortedTransactions ?? []) as AbortedTransaction[],
  );
  if (!index) return false;
  const message = (i: number) => {
    const batch = batches[index.batchOf[i] as number] as RecordBatchBytes;
    const record = batch.records.subarray(index.starts[i], index.ends[i]);
    return reading.decodeRecord(new reading.Decoder(record), batch.context) as object;
  };
  const { withinFrom, raw, visible } = index;
  target.rawMessages = lazyList(raw, message);
  target.messagesWithinOffset = lazyList(raw - withinFrom, (i) => message(withinFrom + i));
  target.messages = lazyList(visible.length, (j) => message(visible[j] as number));
  target[RECORDS] = new IndexedRecords(topic, data.partition, batches, index);
  return true;
}

/**
 * Every record of the batches as kafkajs's decodeMessages makes them: a batch whose records run
 * short ends the fetch there, as the tail of a fetch cut by max bytes does; other errors are thrown.
 */
export function decodeAll({ batches }: FetchedBatches, reading: RecordReading): unknown[] {
  const messages: unknown[] = [];
  for (const batch of batches) {
    const decoder = new reading.Decoder(batch.records) as KafkaDecoder & {
      readVarIntBytes(): Buffer;
    };
    try {
      const decoded: unknown[] = [];
      for (let r = 0; r < batch.count; r++)
        decoded.push(reading.decodeRecord(new reading.Decoder(decoder.readVarIntBytes()), batch.context));
      for (const message of decoded) messages.push(message);
    } catch (error) {
      if ((error as Error).name === 'KafkaJSPartialMessageError') break;
      throw error;
    }
  }
  return messages;
}
