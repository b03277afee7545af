import { createRequire } from 'node:module';

/*
 * The one place kafkajs is loaded, with hot paths of kafkajs 2.2.4's producer replaced by
 * equivalent linear, allocation-light versions (they dominated the produce profile):
 *  - grouping a send's messages per partition used `[...current, message]` in a reduce: quadratic;
 *  - encoding each record allocated a zero-filled 512-byte Encoder and grew it;
 *  - concatenating a batch's records grew a zero-filled buffer by doubling, one copy per step;
 *    the garbage (external memory) triggered a quarter of the producer's time in collections.
 * Replacements must sit in require's cache before kafkajs's modules load, and an ES `import` of
 * kafkajs may not share that cache, so kafkajs itself is loaded with the same `require`. Import
 * kafkajs only from here (types may be imported directly).
 */
const require = createRequire(import.meta.url);

type Partitioner = (args: { topic: string; partitionMetadata: unknown[]; message: unknown }) => number;

function groupMessagesPerPartition(args: {
  topic: string;
  partitionMetadata: unknown[];
  messages: unknown[];
  partitioner: Partitioner;
}): Record<number, unknown[]> {
  const { topic, partitionMetadata, messages, partitioner } = args;
  const result: Record<number, unknown[]> = {};
  if (partitionMetadata.length === 0) return result;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    const group = result[partition];
    if (group) group.push(message);
    else result[partition] = [message];
  }
  return result;
}

type Bytes = Buffer | string | null | undefined;
interface RecordArgs {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: Bytes;
  value?: Bytes;
  headers?: Record<string, unknown>;
}
/** What kafkajs's batch encoder reads from an encoded record. */
interface EncodedRecord {
  buf: Buffer;
  readonly buffer: Buffer;
}

const zigzag = (n: number): number => (n >= 0 ? n * 2 : -n * 2 - 1);

function sizeOfUnsignedVarint(u: number): number {
  let size = 1;
  while (u >= 128) {
    u = Math.floor(u / 128);
    size++;
  }
  return size;
}

function writeUnsignedVarint(buf: Buffer, offset: number, u: number): number {
  while (u >= 128) {
    buf[offset++] = (u % 128) | 128;
    u = Math.floor(u / 128);
  }
  buf[offset++] = u;
  return offset;
}

const toBuffer = (b: Bytes): Buffer | null => (b == null ? null : Buffer.isBuffer(b) ? b : Buffer.from(b));

/** Kafka record v0 (varint-framed), for records without headers; others use kafkajs's encoder. */
export type RecordEncoder = (args: RecordArgs) => EncodedRecord;

function fastRecord(original: RecordEncoder): RecordEncoder {
  return (args: RecordArgs): EncodedRecord => {
    if (args.headers && Object.keys(args.headers).length > 0) return original(args);
    const key = toBuffer(args.key);
    const value = toBuffer(args.value);
    const ts = zigzag(Number(args.timestampDelta ?? 0));
    const od = zigzag(args.offsetDelta ?? 0);
    const keyLen = key === null ? 1 : sizeOfUnsignedVarint(zigzag(key.length)) + key.length;
    const valueLen = value === null ? 1 : sizeOfUnsignedVarint(zigzag(value.length)) + value.length;
    const body = 1 + sizeOfUnsignedVarint(ts) + sizeOfUnsignedVarint(od) + keyLen + valueLen + 1;
    const bodyZ = zigzag(body);
    const buf = Buffer.allocUnsafe(sizeOfUnsignedVarint(bodyZ) + body);
    let o = writeUnsignedVarint(buf, 0, bodyZ);
    buf[o++] = 0; // attributes
    o = writeUnsignedVarint(buf, o, ts);
    o = writeUnsignedVarint(buf, o, od);
    for (const part of [key, value]) {
      if (part === null)
        buf[o++] = 1; // zigzag(-1)
      else {
        o = writeUnsignedVarint(buf, o, zigzag(part.length));
        o += part.copy(buf, o);
      }
    }
    buf[o] = 0; // no headers
    return { buf, buffer: buf };
  };
}

/** Swaps a kafkajs module for `replace(original)`; returns the original for tests to compare. */
function replaceModule<T>(path: string, replace: (original: T) => unknown): T {
  const resolved = require.resolve(`kafkajs/src/${path}`);
  const original = require(resolved) as T;
  const cached = require.cache[resolved];
  if (cached) cached.exports = replace(original);
  return original;
}

interface EncoderInternals {
  buf: Buffer;
  offset: number;
  writeBufferInternal(buffer: Buffer): void;
}

/** Writes encoded records with one exact-size growth instead of a doubling chain. */
function presizedEncoderArray(this: EncoderInternals, value: readonly EncodedRecord[]) {
  if (!Array.isArray(value) || value.some((v) => v == null || !Buffer.isBuffer(v.buf))) {
    throw new Error('all values should be an instance of Encoder[]');
  }
  let total = this.offset;
  for (const v of value) total += v.buffer.length;
  if (total > this.buf.length) {
    const grown = Buffer.allocUnsafe(total);
    this.buf.copy(grown, 0, 0, this.offset);
    this.buf = grown;
  }
  for (const v of value) this.writeBufferInternal(v.buffer);
  return this;
}

replaceModule('producer/groupMessagesPerPartition.js', () => groupMessagesPerPartition);
replaceModule<{ prototype: object }>('protocol/encoder.js', (Encoder) => {
  Object.assign(Encoder.prototype, { writeEncoderArray: presizedEncoderArray });
  return Encoder;
});
const originalRecord = replaceModule<RecordEncoder>('protocol/recordBatch/record/v0/index.js', fastRecord);

/** Both record encoders, so a test can prove they write the same bytes. */
export const recordEncoders = { original: originalRecord, fast: fastRecord(originalRecord) };

export const kafkajs: typeof import('kafkajs') = require('kafkajs');
