import { createRequire } from 'node:module';
import {
  type DecodeMessages,
  decodeAll,
  decodeMessagesLazily,
  FetchedBatches,
  fillIndexedBatch,
  type PartitionData as IndexablePartitionData,
  type RecordReading,
} from './fetched-records.ts';
import { fastProduceRequest, type ProduceInternals, type ProduceRequestV3 } from './produce-request.ts';
import { type ConnectionInternals, reassemblingProcessData } from './responses.ts';

/*
 * The one place kafkajs is loaded, with hot paths of kafkajs 2.2.4 replaced by equivalent linear,
 * allocation-light versions. The producer's dominated the produce profile:
 *  - grouping a send's messages per partition used `[...current, message]` in a reduce: quadratic;
 *  - encoding each record copied its message, made a buffer of its key and a zero-filled 512-byte
 *    Encoder of the record, and a batch's records were concatenated into a buffer grown by
 *    doubling: a produce request is now written straight from the messages (produce-request.ts);
 *  - kafkajs's encoders, which still write the requests that one does not (record headers), grow
 *    by one exact-size step where they concatenated by doubling.
 * The consumer's made most of the consuming thread's garbage (~1.8 KB per record, collected by
 * V8's helper threads at ~2 µs per record):
 *  - decoding a record's timestamp delta built a Long per varint byte, and its offset and
 *    timestamp went through Long arithmetic; numbers are exact for both (below 2^53);
 *  - a fetched batch dropped records before the fetched offset by parsing every offset into a Long;
 *  - a fetch's every record became objects on arrival, held for the seconds its ranges take to
 *    reach the sink: a fetched partition is now kept as bytes and indexed (fetched-records.ts).
 * Each keeps kafkajs's own code for what numbers cannot hold exactly (and for record headers).
 * Each connection's reassembly of responses from socket reads held every response's bytes until
 * the next response had arrived (responses.ts).
 * One replacement fixes a bug instead: kafkajs's filter of aborted transactions let records of
 * interleaved aborted transactions through (filterAbortedMessages below).
 * Replacements must sit in require's cache before kafkajs's modules load, and an ES `import` of
 * kafkajs may not share that cache, so kafkajs itself is loaded with the same `require`. Import
 * kafkajs only from here (types may be imported directly).
 */
const require = createRequire(import.meta.url);

/** The kafkajs the replacements below are written against (package.json pins it). */
const KAFKAJS_VERSION = '2.2.4';
{
  const { version } = require('kafkajs/package.json') as { version: string };
  if (version !== KAFKAJS_VERSION)
    throw new Error(
      `kafkajs ${version} is installed, but kafka/kafkajs.ts replaces modules of kafkajs ${KAFKAJS_VERSION}: install the version package.json pins (npm install)`,
    );
  // kafkajs's modules capture each other when they load: loaded before the replacements, it would
  // keep the originals.
  if (require.cache[require.resolve('kafkajs')])
    throw new Error(
      'kafkajs was loaded before kafka/kafkajs.ts: import it only through kafka/ (biome enforces it)',
    );
}

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

type RecordEncoder = (args: {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: Buffer | string | null;
  value?: Buffer | string | null;
  headers?: Record<string, unknown>;
}) => { buffer: Buffer };

interface RecordDecoder {
  buffer: Buffer;
  offset: number;
  readInt8(): number;
  readVarInt(): number;
  readVarIntBytes(): Buffer | null;
}

interface BatchContext {
  firstOffset: string;
  firstTimestamp: string;
  maxTimestamp: string;
  magicByte: number;
  isControlBatch?: boolean;
  timestampType: number;
}

/** Kafka record v0 as kafkajs's decoder reads it (`decoder` at the record's attributes). */
export type RecordDecode = (decoder: RecordDecoder, batchContext?: BatchContext) => unknown;

const LOG_APPEND_TIME = 1;
const TWO_POW_53 = 2 ** 53;

/** A zigzag varint64 as a number, or undefined when it does not fit one exactly. */
function readVarLongNumber(decoder: RecordDecoder): number | undefined {
  const { buffer } = decoder;
  let value = 0;
  let scale = 1;
  let byte: number;
  do {
    byte = buffer[decoder.offset++] as number;
    value += (byte & 127) * scale;
    scale *= 128;
  } while (byte >= 128 && scale < TWO_POW_53);
  if (byte >= 128 || value >= TWO_POW_53) return undefined;
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
}

/** The zigzag varint at the decoder's position, without moving it. */
function peekVarInt(decoder: RecordDecoder): number {
  const at = decoder.offset;
  const value = decoder.readVarInt();
  decoder.offset = at;
  return value;
}

function fastRecordDecoder(original: RecordDecode): RecordDecode {
  // The batch's base offset and timestamp as numbers, parsed once per batch.
  let context: BatchContext | undefined;
  let baseOffset = 0;
  let baseTimestamp = 0;
  return (decoder, batchContext) => {
    if (batchContext === undefined) return original(decoder, batchContext);
    if (batchContext !== context) {
      context = batchContext;
      baseOffset = Number(batchContext.firstOffset);
      baseTimestamp = Number(batchContext.firstTimestamp);
    }
    if (!Number.isSafeInteger(baseOffset) || !Number.isSafeInteger(baseTimestamp))
      return original(decoder, batchContext);
    const start = decoder.offset;
    const attributes = decoder.readInt8();
    const timestampDelta = readVarLongNumber(decoder);
    const offsetDelta = timestampDelta === undefined ? 0 : decoder.readVarInt();
    const key = timestampDelta === undefined ? null : decoder.readVarIntBytes();
    const value = timestampDelta === undefined ? null : decoder.readVarIntBytes();
    const headers = timestampDelta === undefined ? 1 : peekVarInt(decoder);
    if (timestampDelta === undefined || (headers !== 0 && headers !== -1)) {
      decoder.offset = start;
      return original(decoder, batchContext);
    }
    decoder.readVarInt();
    const { magicByte, isControlBatch = false, timestampType, maxTimestamp } = batchContext;
    return {
      magicByte,
      attributes,
      timestamp:
        timestampType === LOG_APPEND_TIME && maxTimestamp
          ? maxTimestamp
          : String(baseTimestamp + timestampDelta),
      offset: String(baseOffset + offsetDelta),
      key,
      value,
      headers: {},
      isControlRecord: isControlBatch,
      batchContext,
    };
  };
}

interface PartitionData {
  partition: number;
  highWatermark: string;
  abortedTransactions?: unknown[];
  messages: { offset: string; isControlRecord?: boolean }[];
}
type BatchClass = new (topic: string, fetchedOffset: string, partitionData: PartitionData) => object;
interface FetchedMessage {
  offset: string;
  key?: Buffer | null;
  isControlRecord?: boolean;
  batchContext?: { producerId: string; inTransaction: boolean; isControlBatch?: boolean };
}
interface AbortedTransaction {
  producerId: string;
  firstOffset: string;
}
type FilterAborted = (args: {
  messages: PartitionData['messages'];
  abortedTransactions?: unknown[];
}) => PartitionData['messages'];

/**
 * The records of a read-committed fetch that no aborted transaction wrote, as Kafka's own consumer
 * decides it. kafkajs's version takes the broker's aborted transactions in the order given (the
 * broker lists them by where they end, not where they start) and enters at most one per record, so
 * of transactions that interleave in a partition (one per producer) the records before the last
 * entered one's start were returned: a reader of a quarantine topic saw rejections whose
 * transaction aborted. Here every transaction that has started by a record's offset is entered
 * first, and an abort marker is a control record's (a data record may have the same key).
 */
function filterAbortedMessages(args: {
  messages: PartitionData['messages'];
  abortedTransactions?: unknown[];
}): PartitionData['messages'] {
  const messages = args.messages as FetchedMessage[];
  const listed = (args.abortedTransactions ?? []) as AbortedTransaction[];
  if (listed.length === 0) return messages;
  const starts = [...listed].sort((a, b) => compareOffsets(a.firstOffset, b.firstOffset));
  let next = 0;
  const aborting = new Set<string>();
  return messages.filter((message) => {
    for (let start = starts[next]; start && compareOffsets(start.firstOffset, message.offset) <= 0; ) {
      aborting.add(start.producerId);
      start = starts[++next];
    }
    const context = message.batchContext;
    if (!context) return true;
    if (context.isControlBatch ?? message.isControlRecord) {
      if (isAbortMarker(message.key)) aborting.delete(context.producerId);
      return true;
    }
    return !(context.inTransaction && aborting.has(context.producerId));
  });
}

/** Offsets as the decimal strings kafkajs carries, compared exactly. */
function compareOffsets(a: string, b: string): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}

/** A control record's key: int16 version, int16 type; type 0 ends a transaction by aborting it. */
function isAbortMarker(key: Buffer | null | undefined): boolean {
  return key != null && key.length >= 4 && key.readInt16BE(2) === 0;
}

/**
 * kafkajs's Batch: a fetch kept as bytes (fetched-records.ts) is indexed, not decoded; otherwise its
 * records before the fetched offset are dropped by comparing numbers.
 */
function fastBatch(Original: BatchClass, filterAborted: FilterAborted, reading: RecordReading): BatchClass {
  function Batch(
    this: Record<string | symbol, unknown>,
    topic: string,
    fetchedOffset: string,
    data: PartitionData | IndexablePartitionData,
  ) {
    const fetched = Number(fetchedOffset);
    const indexable = data.messages instanceof FetchedBatches;
    this.fetchedOffset = fetchedOffset;
    this.topic = topic;
    this.partition = data.partition;
    this.highWatermark = data.highWatermark;
    if (
      indexable &&
      Number.isSafeInteger(fetched) &&
      fillIndexedBatch(
        this,
        topic,
        fetched,
        data as IndexablePartitionData & { messages: FetchedBatches },
        reading,
      )
    )
      return;
    const partitionData = (
      indexable ? { ...data, messages: decodeAll(data.messages as FetchedBatches, reading) } : data
    ) as PartitionData;
    if (!Number.isSafeInteger(fetched)) return new Original(topic, fetchedOffset, partitionData);
    const { abortedTransactions, messages } = partitionData;
    this.rawMessages = messages;
    // Offsets ascend within a fetch: most often none is before the fetched one.
    const within =
      messages.length > 0 && Number(messages[0]?.offset) >= fetched
        ? messages
        : messages.filter((message) => Number(message.offset) >= fetched);
    this.messagesWithinOffset = within;
    this.messages = filterAborted({ messages: within, abortedTransactions }).filter(
      (message) => !message.isControlRecord,
    );
  }
  Batch.prototype = Original.prototype;
  return Batch as unknown as BatchClass;
}

/**
 * The modules replaced, each with whether kafkajs finds the replacement where it looks (checked
 * once kafkajs has loaded).
 */
const installed = new Map<string, () => boolean>();

/**
 * Swaps a kafkajs module for `replace(original)`; returns the original for tests to compare. A
 * replacement that patches the module's class rather than swapping it says how to tell it is in
 * place (`patched`).
 */
function replaceModule<T>(
  path: string,
  replace: (original: T) => unknown,
  patched: (exports: T) => boolean = () => true,
): T {
  const resolved = require.resolve(`kafkajs/src/${path}`);
  const original = require(resolved) as T;
  const cached = require.cache[resolved];
  if (!cached) throw new Error(`kafkajs/src/${path} is not in require's cache: it cannot be replaced`);
  const replacement = replace(original);
  cached.exports = replacement;
  installed.set(resolved, () => require(resolved) === replacement && patched(replacement as T));
  return original;
}

interface EncoderInternals {
  buf: Buffer;
  offset: number;
  writeBufferInternal(buffer: Buffer): void;
}

/** Writes encoded records with one exact-size growth instead of a doubling chain. */
function presizedEncoderArray(this: EncoderInternals, value: readonly { buf: Buffer; buffer: Buffer }[]) {
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
replaceModule<{ prototype: { writeEncoderArray: unknown } }>(
  'protocol/encoder.js',
  (Encoder) => {
    Object.assign(Encoder.prototype, { writeEncoderArray: presizedEncoderArray });
    return Encoder;
  },
  (Encoder) => Encoder.prototype.writeEncoderArray === presizedEncoderArray,
);
type ProcessData = (this: ConnectionInternals, data: Buffer) => unknown;
let originalProcessData: ProcessData | undefined;
let installedProcessData: ProcessData | undefined;
replaceModule<{ prototype: { processData: ProcessData } }>(
  'network/connection.js',
  (Connection) => {
    originalProcessData = Connection.prototype.processData;
    installedProcessData = reassemblingProcessData(originalProcessData);
    Connection.prototype.processData = installedProcessData;
    return Connection;
  },
  (Connection) => Connection.prototype.processData === installedProcessData,
);
const compression = require('kafkajs/src/protocol/message/compression') as {
  Types: { None: number };
  COMPRESSION_CODEC_MASK: number;
  lookupCodec: ProduceInternals['lookupCodec'];
};
const produceInternals: ProduceInternals = {
  Long: require('kafkajs/src/utils/long'),
  crc32C: require('kafkajs/src/protocol/recordBatch/crc32C'),
  lookupCodec: compression.lookupCodec,
  codecMask: compression.COMPRESSION_CODEC_MASK,
  none: compression.Types.None,
};
const originalProduceRequest = replaceModule<ProduceRequestV3>(
  'protocol/requests/produce/v3/request.js',
  (original) => fastProduceRequest(original, produceInternals),
);

const originalRecordDecoder = replaceModule<RecordDecode>(
  'protocol/recordBatch/record/v0/decoder.js',
  fastRecordDecoder,
);
const originalFilterAborted = replaceModule<FilterAborted>(
  'consumer/filterAbortedMessages.js',
  () => filterAbortedMessages,
);
const originalDecodeMessages = replaceModule<DecodeMessages>(
  'protocol/requests/fetch/v4/decodeMessages.js',
  (original) => {
    const { lookupCodecByAttributes } = require('kafkajs/src/protocol/message/compression') as {
      lookupCodecByAttributes(attributes: number): { decompress(buffer: Buffer): Promise<Buffer> } | null;
    };
    return decodeMessagesLazily(original, lookupCodecByAttributes);
  },
);
const reading: RecordReading = {
  Decoder: require('kafkajs/src/protocol/decoder.js'),
  decodeRecord: require('kafkajs/src/protocol/recordBatch/record/v0/decoder.js'),
};
const originalBatch = replaceModule<BatchClass>('consumer/batch.js', (Batch) =>
  fastBatch(Batch, filterAbortedMessages, reading),
);

/** kafkajs's encoder of one record (v0, varint-framed), which tests build fixtures with. */
export const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as RecordEncoder;

/** Both produce request encoders, alike, and what the fast one is built from. */
export const produceRequests = {
  original: originalProduceRequest,
  fast: fastProduceRequest(originalProduceRequest, produceInternals),
  internals: produceInternals,
};

/** Both record decoders and batches, so a test can prove they read the same records. */
export const recordDecoders = {
  original: originalRecordDecoder,
  fast: fastRecordDecoder(originalRecordDecoder),
};
export const batches = {
  original: originalBatch,
  fast: fastBatch(originalBatch, filterAbortedMessages, reading),
};

/** kafkajs's decoder of a fetched partition's records and the one that keeps them as bytes. */
export const messageDecoders = {
  original: originalDecodeMessages,
  lazy: require('kafkajs/src/protocol/requests/fetch/v4/decodeMessages.js') as DecodeMessages,
};

/** kafkajs's reassembly of responses from a connection's reads and the one that replaces it. */
export const processData = {
  original: originalProcessData as ProcessData,
  reassembling: installedProcessData as ProcessData,
};

/** kafkajs's filter of aborted records and the one that replaces it. */
export const abortedFilters = { original: originalFilterAborted, fixed: filterAbortedMessages };

export const kafkajs: typeof import('kafkajs') = require('kafkajs');

/**
 * The replaced modules as kafkajs now finds them: each path and whether it holds the replacement.
 * Checked here at start (a start with an original in place fails), and by test/kafka.test.ts.
 */
export function replacementsInPlace(): { path: string; replaced: boolean }[] {
  return [...installed].map(([resolved, inPlace]) => ({
    path: resolved.slice(resolved.lastIndexOf('kafkajs')),
    replaced: inPlace(),
  }));
}
{
  const missing = replacementsInPlace().filter((r) => !r.replaced);
  if (missing.length > 0)
    throw new Error(`kafkajs modules not replaced: ${missing.map((r) => r.path).join(', ')}`);
}

/** The Kafka protocol's error codes as kafkajs names and words them. */
export const protocolErrors = (
  require('kafkajs/src/protocol/error.js') as { errorCodes: { type: string; message: string }[] }
).errorCodes;
