// Produce requests (v3, which kafkajs's v4-v7 reuse) written straight from the messages: each
// partition's records into one buffer, compressed, then the batch around them. kafkajs 2.2.4 made a
// copy of every message (`{ ...message, offsetDelta, timestampDelta }`), a buffer of each string
// key and each record, and grew the batch's encoders by doubling: a quarter of the generator's
// event loop at 50,000 events/s; in requests of 160 records, 9.1-11.3 µs a record on the event
// loop against 5.9-6.7 now (measured side by side). Requests with record headers, or whose
// timestamps do not make safe-integer deltas, go to kafkajs's own encoder; test/kafka.test.ts
// holds the two to the same bytes.

/** What kafkajs's protocol/request.js takes from `encode()`: an Encoder's buffer. */
class Encoded {
  constructor(readonly buf: Buffer) {}
  get buffer(): Buffer {
    return this.buf;
  }
  size(): number {
    return this.buf.length;
  }
}

type Int64 = number | string | object;
interface LongValue {
  getHighBits(): number;
  getLowBits(): number;
}
interface Message {
  key?: Buffer | string | null;
  value?: Buffer | string | null;
  timestamp?: number | string | null;
  headers?: Record<string, unknown>;
}
interface PartitionData {
  partition: number;
  firstSequence?: number;
  messages: Message[];
}
interface TopicData {
  topic: string;
  partitions: PartitionData[];
}
export interface ProduceArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: Int64;
  producerEpoch?: number;
  compression?: number;
  topicData: TopicData[];
}
interface ProduceRequest {
  encode(): Promise<{ buffer: Buffer }>;
}
export type ProduceRequestV3 = (args: ProduceArgs) => ProduceRequest;

/** kafkajs's internals the encoder writes with, so its numbers and codecs are kafkajs's own. */
export interface ProduceInternals {
  Long: { fromValue(value: Int64): LongValue; fromInt(value: number): Int64 };
  crc32C(buffer: Buffer): number;
  lookupCodec(type: number): { compress(encoder: { buffer: Buffer }): Promise<Buffer> } | null;
  codecMask: number;
  none: number;
}

const MAGIC_BYTE = 2;
const TRANSACTIONAL = 16;
/** Batch fields before the records: base offset 8, length 4, leader epoch 4, magic 1, crc 4. */
const CRC_END = 21;
/** The rest of the header: attributes 2 ... first sequence 4, record count 4. */
const BATCH_HEADER = CRC_END + 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4;

const zigzag = (n: number): number => (n >= 0 ? n * 2 : -n * 2 - 1);

function sizeOfVarint(u: number): number {
  let size = 1;
  while (u >= 128) {
    u = Math.floor(u / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, at: number, u: number): number {
  while (u >= 128) {
    buf[at++] = (u % 128) | 128;
    u = Math.floor(u / 128);
  }
  buf[at++] = u;
  return at;
}

const byteLength = (part: Buffer | string | null | undefined): number =>
  part == null ? -1 : Buffer.isBuffer(part) ? part.length : Buffer.byteLength(String(part), 'utf8');

function writeBytes(
  buf: Buffer,
  at: number,
  part: Buffer | string | null | undefined,
  length: number,
): number {
  at = writeVarint(buf, at, zigzag(length));
  if (part == null) return at;
  return at + (Buffer.isBuffer(part) ? part.copy(buf, at) : buf.write(String(part), at, length, 'utf8'));
}

function writeInt64(buf: Buffer, at: number, value: Int64, { Long }: ProduceInternals): number {
  const long = Long.fromValue(value);
  buf.writeInt32BE(long.getHighBits(), at);
  buf.writeInt32BE(long.getLowBits(), at + 4);
  return at + 8;
}

/** A record's size after its length: attributes, deltas, key, value, no headers (-1: null). */
const recordBody = (timestampDelta: number, offsetDelta: number, key: number, value: number): number =>
  1 +
  sizeOfVarint(zigzag(timestampDelta)) +
  sizeOfVarint(zigzag(offsetDelta)) +
  sizeOfVarint(zigzag(key)) +
  Math.max(key, 0) +
  sizeOfVarint(zigzag(value)) +
  Math.max(value, 0) +
  1;

/** kafkajs's batch timestamps: the first and last of the messages' own (sorted as kafkajs sorts). */
function batchTimestamps(messages: readonly Message[], now: number) {
  const own = messages.map((m) => m.timestamp).filter((t) => t != null);
  if (own.length === 0) return { first: now, max: now, deltas: undefined };
  own.sort();
  const first = own[0] as number | string;
  // kafkajs subtracts as JS does, whatever the types: so does this.
  const deltas = messages.map((m) => ((m.timestamp || now) as number) - (first as number));
  return { first, max: own[own.length - 1] as number | string, deltas };
}

/**
 * One partition's entry of the request (its number, its batch's size and the batch), or undefined
 * where kafkajs's encoder must write it.
 */
async function encodeBatch(
  { partition, firstSequence = 0, messages }: PartitionData,
  args: ProduceArgs,
  internals: ProduceInternals,
): Promise<Buffer | undefined> {
  const { first, max, deltas } = batchTimestamps(messages, Date.now());
  const lengths = new Array<number>(messages.length * 2);
  let recordsBytes = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as Message;
    if (m.headers && Object.keys(m.headers).length > 0) return undefined;
    const delta = deltas?.[i] ?? 0;
    if (!Number.isSafeInteger(delta)) return undefined;
    const key = byteLength(m.key);
    const value = byteLength(m.value);
    lengths[2 * i] = key;
    lengths[2 * i + 1] = value;
    const body = recordBody(delta, i, key, value);
    recordsBytes += sizeOfVarint(zigzag(body)) + body;
  }
  const records = Buffer.allocUnsafe(recordsBytes);
  let at = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as Message;
    const delta = deltas?.[i] ?? 0;
    const key = lengths[2 * i] as number;
    const value = lengths[2 * i + 1] as number;
    const body = recordBody(delta, i, key, value);
    at = writeVarint(records, at, zigzag(body));
    records[at++] = 0; // attributes
    at = writeVarint(records, at, zigzag(delta));
    at = writeVarint(records, at, zigzag(i));
    at = writeBytes(records, at, m.key, key);
    at = writeBytes(records, at, m.value, value);
    records[at++] = 0; // no headers
  }
  const compression = args.compression ?? internals.none;
  let payload: Buffer = records;
  if (compression !== internals.none) {
    // A codec kafkajs has none for fails there, with kafkajs's error.
    const compressor = internals.lookupCodec(compression);
    if (compressor === null) return undefined;
    payload = await compressor.compress({ buffer: records });
  }

  // The partition and the batch's size, then the batch.
  const out = Buffer.allocUnsafe(8 + BATCH_HEADER + payload.length);
  out.writeInt32BE(partition, 0);
  out.writeInt32BE(out.length - 8, 4);
  const batch = out.subarray(8);
  at = writeInt64(batch, 0, 0, internals); // base offset
  at = batch.writeInt32BE(batch.length - 12, at); // what follows the length
  at = batch.writeInt32BE(0, at); // partition leader epoch
  at = batch.writeInt8(MAGIC_BYTE, at);
  at += 4; // the CRC, over what follows it
  at = batch.writeInt16BE(
    (compression & internals.codecMask) | (args.transactionalId ? TRANSACTIONAL : 0),
    at,
  );
  at = batch.writeInt32BE(messages.length - 1, at);
  at = writeInt64(batch, at, first, internals);
  at = writeInt64(batch, at, max, internals);
  at = writeInt64(batch, at, args.producerId ?? internals.Long.fromInt(-1), internals);
  at = batch.writeInt16BE(args.producerEpoch ?? 0, at);
  at = batch.writeInt32BE(firstSequence, at);
  at = batch.writeInt32BE(messages.length, at);
  payload.copy(batch, at);
  batch.writeUInt32BE(internals.crc32C(batch.subarray(CRC_END)), CRC_END - 4);
  return out;
}

function writeString(value: string | null | undefined): Buffer {
  if (value == null) return Buffer.from([0xff, 0xff]);
  const length = Buffer.byteLength(value, 'utf8');
  const buf = Buffer.allocUnsafe(2 + length);
  buf.writeInt16BE(length, 0);
  buf.write(value, 2, length, 'utf8');
  return buf;
}

const int32 = (n: number): Buffer => {
  const buf = Buffer.allocUnsafe(4);
  buf.writeInt32BE(n, 0);
  return buf;
};

/** kafkajs's produce request v3 with `encode` replaced where it can write the request itself. */
export function fastProduceRequest(
  original: ProduceRequestV3,
  internals: ProduceInternals,
): ProduceRequestV3 {
  return (args) => {
    const request = original(args);
    return {
      ...request,
      async encode() {
        const acksAndTimeout = Buffer.allocUnsafe(6);
        acksAndTimeout.writeInt16BE(args.acks, 0);
        acksAndTimeout.writeInt32BE(args.timeout, 2);
        const parts = [writeString(args.transactionalId), acksAndTimeout, int32(args.topicData.length)];
        for (const { topic, partitions } of args.topicData) {
          parts.push(writeString(topic), int32(partitions.length));
          for (const data of partitions) {
            const batch = await encodeBatch(data, args, internals);
            if (batch === undefined) return request.encode();
            parts.push(batch);
          }
        }
        return new Encoded(Buffer.concat(parts));
      },
    };
  };
}
