import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { types } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.ts';
import type { Kafka } from '../kafka/index.ts';
import {
  BatchingProducer,
  createKafka,
  ensureTopics,
  eventsPartitionsWarning,
  fetchedRecords,
} from '../kafka/index.ts';
import {
  abortedFilters,
  batches,
  encodeRecord,
  kafkajs,
  messageDecoders,
  processData,
  produceRequests,
  recordDecoders,
  replacementsInPlace,
} from '../kafka/kafkajs.ts';
import { formatEntry, kafkaLogCreator, type Level, levelOf } from '../kafka/log.ts';
import { javaCompatiblePartitioner, murmur2 } from '../kafka/partitioner.ts';
import { fastProduceRequest, type ProduceRequestV3 } from '../kafka/produce-request.ts';
import type { ConnectionInternals } from '../kafka/responses.ts';
import { consumeAll } from './support/kafka.ts';

describe('the kafkajs this process runs', () => {
  it('is the pinned version, with every replacement in place where kafkajs looks for it', () => {
    const require = createRequire(import.meta.url);
    expect((require('kafkajs/package.json') as { version: string }).version).toBe('2.2.4');
    const replaced = replacementsInPlace();
    expect(replaced.map((r) => r.path).sort()).toEqual([
      'kafkajs/src/consumer/batch.js',
      'kafkajs/src/consumer/filterAbortedMessages.js',
      'kafkajs/src/network/connection.js',
      'kafkajs/src/producer/groupMessagesPerPartition.js',
      'kafkajs/src/protocol/encoder.js',
      'kafkajs/src/protocol/recordBatch/record/v0/decoder.js',
      'kafkajs/src/protocol/requests/fetch/v4/decodeMessages.js',
      'kafkajs/src/protocol/requests/produce/v3/request.js',
    ]);
    expect(replaced.every((r) => r.replaced)).toBe(true);
  });
});

describe('produce request encoder', () => {
  const LZ4 = kafkajs.CompressionTypes.LZ4 as number;
  const GZIP = kafkajs.CompressionTypes.GZIP as number;
  const messages = [
    { key: 'user-1', value: Buffer.from('{"a":1}') },
    { key: null, value: 'héllo wörld ✓' },
    { key: Buffer.alloc(200, 7), value: null },
    { key: 'ключ ✓', value: Buffer.alloc(70_000, 1) },
    { key: '', value: '' },
    { key: undefined, value: Buffer.alloc(0) },
    // Lone surrogates: written as U+FFFD, three bytes, by the length and by the write alike.
    { key: '\ud800 lone', value: '{"a":"\udfff"}' },
    ...Array.from({ length: 300 }, (_, i) => ({
      key: `u${i % 7}`,
      value: `{"n":${i},"pad":"${'x'.repeat(i)}"}`,
    })),
  ];
  const stamped = messages
    .slice(0, 40)
    .map((m, i) => ({ ...m, timestamp: 1_700_000_000_000 + ((i * 37) % 90) }));
  const topicData = (partitions: { messages: object[] }[]) => [
    {
      topic: 'events',
      partitions: partitions.map((p, n) => ({ partition: n, firstSequence: 10 * n, ...p })),
    },
    { topic: 'другой', partitions: [{ partition: 3, firstSequence: 0, messages: messages.slice(0, 2) }] },
  ];
  const cases = [
    { messages: [messages, messages.slice(1, 2)] },
    { messages: [stamped] },
    // Timestamps as strings (kafkajs sorts them as strings) and mixed with unstamped records.
    {
      messages: [
        [...stamped.map((m) => ({ ...m, timestamp: String(m.timestamp) })), ...messages.slice(0, 3)],
      ],
    },
    {
      messages: [
        [
          { key: 'k', value: 'v', timestamp: 1 },
          { key: 'k', value: 'w', timestamp: 1_700_000_000_000 },
        ],
      ],
    },
    { messages: [[]] },
  ];
  /** Both encoders' bytes; kafkajs takes a batch's time from the clock where no record has its own. */
  async function encodeBoth(
    args: Parameters<typeof produceRequests.fast>[0],
    fastEncoder = produceRequests.fast,
  ) {
    const now = Date.now;
    Date.now = () => 1_800_000_000_000;
    try {
      const fast = (await fastEncoder(args).encode()).buffer;
      return { fast, original: (await produceRequests.original(args).encode()).buffer };
    } finally {
      Date.now = now;
    }
  }
  const variants = [
    { acks: -1, timeout: 30_000, compression: 0 },
    { acks: -1, timeout: 30_000, compression: LZ4, producerId: '4242', producerEpoch: 3 },
    { acks: 1, timeout: 5_000, compression: GZIP, transactionalId: 'tx-✓', producerId: 7, producerEpoch: 1 },
  ];

  it('writes the same bytes as kafkajs for every codec, key, value, timestamp and transaction', async () => {
    let compared = 0;
    for (const variant of variants)
      for (const c of cases) {
        const args = { ...variant, topicData: topicData(c.messages.map((m) => ({ messages: m }))) };
        const { fast, original } = await encodeBoth(args);
        expect(fast.equals(original), `${JSON.stringify(variant)} ${c.messages.map((m) => m.length)}`).toBe(
          true,
        );
        compared++;
      }
    expect(compared).toBe(variants.length * cases.length);
  });

  it("leaves records with headers, and deltas numbers cannot hold, to kafkajs's own encoder", async () => {
    const headed = [{ key: 'h', value: 'v', headers: { trace: 'abc', n: ['1', '2'] } }];
    const far = [
      { key: 'a', value: '1', timestamp: '-9007199254740993' },
      { key: 'b', value: '2', timestamp: '9007199254740993' },
    ];
    // The fast encoder over a kafkajs encoder that counts its own encodes: the same bytes could
    // come out of either path, so the count is what says which one wrote them.
    let kafkajsEncodes = 0;
    const counted: ProduceRequestV3 = (args) => {
      const request = produceRequests.original(args);
      return {
        ...request,
        encode: () => {
          kafkajsEncodes++;
          return request.encode();
        },
      };
    };
    const fastOverCounted = fastProduceRequest(counted, produceRequests.internals);
    const plain = [{ key: 'a', value: '1', timestamp: '1800000000000' }];
    for (const [m, fellBack] of [
      [headed, 1],
      [far, 1],
      [plain, 0],
    ] as const) {
      const args = { acks: -1, timeout: 1_000, topicData: topicData([{ messages: [...m] }]) };
      kafkajsEncodes = 0;
      const { fast, original } = await encodeBoth(args, fastOverCounted);
      expect(kafkajsEncodes, JSON.stringify(m)).toBe(fellBack);
      expect(fast.equals(original)).toBe(true);
    }
  });
});

describe('partitioner', () => {
  it("hashes as Java's Utils.murmur2 (Kafka's own test vectors)", () => {
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [text, hash] of vectors) expect(murmur2(Buffer.from(text))).toBe(hash);
  });

  it('puts every record where kafkajs puts it: keys of every length, unicode, bytes, no key', () => {
    const random = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + n * 17) & 0xff));
    const keys: (string | Buffer | null)[] = [null, '', 'é', '👍', '\ud800x', 'x'.repeat(300)];
    // Either side of the reused buffer's 256 bytes.
    for (const n of [85, 86, 128]) keys.push('x'.repeat(n), '€'.repeat(n));
    for (let n = 0; n < 40; n++) {
      keys.push(`user-${n}-${'ab'.repeat(n)}`, `ü${'€'.repeat(n)}`, random(n));
    }
    const topic = 'events';
    for (const partitions of [1, 3, 6, 13]) {
      const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
        partitionId,
        leader: 1,
        replicas: [1],
        isr: [1],
        partitionErrorCode: 0,
      }));
      const ours = javaCompatiblePartitioner();
      const theirs = kafkajs.Partitioners.DefaultPartitioner();
      for (const key of keys) {
        if (key === null) continue;
        const message = { key, value: 'v' };
        expect(ours({ topic, partitionMetadata, message })).toBe(
          theirs({ topic, partitionMetadata, message }),
        );
      }
      // An explicit partition, and no key (kafkajs's round robin from a random start: it decides both).
      expect(ours({ topic, partitionMetadata, message: { key: 'k', value: 'v', partition: 0 } })).toBe(0);
      const keyless = Array.from({ length: partitions * 2 }, () =>
        ours({ topic, partitionMetadata, message: { key: null, value: 'v' } }),
      );
      expect(new Set(keyless).size).toBe(partitions);
    }
  });
});

describe("a connection's responses, reassembled from its reads", () => {
  type Fulfilled = { size: number; correlationId: number; payload: Buffer };
  function connection(): ConnectionInternals & { handed: Fulfilled[]; destroyed: Error[] } {
    const handed: Fulfilled[] = [];
    const destroyed: Error[] = [];
    return {
      authHandlers: null,
      chunks: [],
      bytesBuffered: 0,
      bytesNeeded: 4,
      requestQueue: { fulfillRequest: (response) => handed.push(response) },
      socket: { destroy: (error) => destroyed.push(error) },
      handed,
      destroyed,
    };
  }
  // Responses as the broker frames them: int32 size, then the correlation id and the payload.
  function frame(correlationId: number, payloadBytes: number): Buffer {
    const out = Buffer.alloc(8 + payloadBytes);
    out.writeInt32BE(4 + payloadBytes, 0);
    out.writeInt32BE(correlationId, 4);
    for (let i = 0; i < payloadBytes; i++) out[8 + i] = (i * 31 + correlationId) & 0xff;
    return out;
  }
  const sizes = [0, 1, 3, 100, 65_536, 100_000, 7, 200_000, 0, 2];
  const stream = Buffer.concat(sizes.map((size, i) => frame(i + 1, size)));
  let seed = 7;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  function cuts(maxRead: number): Buffer[] {
    const reads: Buffer[] = [];
    for (let at = 0; at < stream.length; ) {
      const end = Math.min(stream.length, at + 1 + Math.floor(random() * maxRead));
      // Each read a buffer of its own, as the socket gives them.
      reads.push(Buffer.from(stream.subarray(at, end)));
      at = end;
    }
    return reads;
  }
  const summary = (handed: Fulfilled[]) =>
    handed.map(({ size, correlationId, payload }) => ({
      size,
      correlationId,
      payload: payload.toString('hex'),
    }));

  it('hands over what kafkajs hands over, however the reads cut the responses', () => {
    for (const maxRead of [1, 3, 5, 64, 4_096, 65_536, 2_000_000]) {
      const reads = cuts(maxRead);
      const ours = connection();
      const theirs = connection();
      for (const read of reads) {
        processData.reassembling.call(ours, read);
        processData.original.call(theirs, read);
      }
      expect(ours.handed.map((r) => r.correlationId)).toEqual(sizes.map((_, i) => i + 1));
      expect(summary(ours.handed)).toEqual(summary(theirs.handed));
    }
  });

  it('holds no bytes of a response once it is handed over, where kafkajs held the whole of it', () => {
    const ours = connection();
    const theirs = connection();
    for (const read of cuts(65_536)) {
      processData.reassembling.call(ours, read);
      processData.original.call(theirs, read);
    }
    expect(ours.chunks).toEqual([]);
    expect(ours.pendingResponse).toBeUndefined();
    // kafkajs keeps an empty view of the buffer its last responses were concatenated into.
    expect(theirs.chunks[0]?.length).toBe(0);
    expect(theirs.chunks[0]?.buffer.byteLength).toBeGreaterThanOrEqual(200_000);
    // A response that came in several reads is a buffer of its own, exactly its size.
    const big = ours.handed.find((r) => r.correlationId === 8) as Fulfilled;
    expect(big.payload.buffer.byteLength).toBe(big.size);
  });

  it('keeps a size cut across reads, and closes a connection whose stream cannot be framed', () => {
    const ours = connection();
    const response = frame(42, 10);
    processData.reassembling.call(ours, response.subarray(0, 2));
    processData.reassembling.call(ours, response.subarray(2));
    expect(ours.handed.map((r) => r.correlationId)).toEqual([42]);
    for (const size of [-4, -1, 0, 3]) {
      const broken = connection();
      const bytes = Buffer.alloc(12);
      bytes.writeInt32BE(size, 0);
      processData.reassembling.call(broken, bytes);
      expect(broken.handed).toEqual([]);
      expect(broken.destroyed.map((e) => e.message)).toEqual([
        `a Kafka response of ${size} bytes cannot be read`,
      ]);
      // kafkajs's own threw out of the socket's data handler.
      expect(() => processData.original.call(connection(), bytes)).toThrow();
    }
  });

  it("leaves the reads of an authentication to kafkajs's own handler", () => {
    const ours = connection();
    const raw: Buffer[] = [];
    ours.authHandlers = { onSuccess: (data: Buffer) => raw.push(data) };
    const read = frame(1, 3);
    processData.reassembling.call(ours, read);
    expect(raw).toEqual([read]);
    expect(ours.handed).toEqual([]);
  });
});

describe('record decoder and batch', () => {
  // kafkajs's own Decoder, positioned as its record-batch decoder hands a record over.
  const Decoder = createRequire(import.meta.url)('kafkajs/src/protocol/decoder.js') as new (
    buffer: Buffer,
  ) => { offset: number; readVarIntBytes(): Buffer };
  const recordDecoder = (encoded: Buffer) => new Decoder(new Decoder(encoded).readVarIntBytes() as Buffer);

  it('reads the same records as kafkajs, falling back to it for headers and unsafe numbers', () => {
    const records = [
      { key: 'user-1', value: Buffer.from('{"a":1}'), offsetDelta: 0, timestampDelta: 0 },
      { key: null, value: 'héllo wörld ✓', offsetDelta: 63, timestampDelta: 64 },
      { key: Buffer.alloc(200, 7), value: null, offsetDelta: 8191, timestampDelta: 1_700_000_000_000 },
      { key: 'k', value: Buffer.alloc(70_000, 1), offsetDelta: 2 ** 20, timestampDelta: -5 },
      { key: 'h', value: 'v', offsetDelta: 3, timestampDelta: 9, headers: { trace: 'abc', n: ['1', '2'] } },
    ];
    const contexts = [
      { firstOffset: '0', firstTimestamp: '1700000000000', timestampType: 0 },
      { firstOffset: '123456789012', firstTimestamp: '-1', timestampType: 0 },
      { firstOffset: '5', firstTimestamp: '1700000000000', timestampType: 1 },
      { firstOffset: '9007199254740993', firstTimestamp: '1700000000000', timestampType: 0 },
    ].map((c) => ({ ...c, maxTimestamp: '1700000000999', magicByte: 2, isControlBatch: false }));
    for (const context of contexts)
      for (const record of records) {
        const encoded = encodeRecord(record).buffer;
        const fast = recordDecoder(encoded);
        const original = recordDecoder(encoded);
        expect(recordDecoders.fast(fast as never, context)).toEqual(
          recordDecoders.original(original as never, context),
        );
        expect(fast.offset).toBe(original.offset);
      }
  });

  it('keeps the records from the fetched offset on, as kafkajs does', () => {
    const messages = (offsets: string[]) =>
      offsets.map((offset, i) => ({ offset, key: null, value: Buffer.from([i]), isControlRecord: i === 3 }));
    for (const [fetched, offsets] of [
      ['10', ['10', '11', '12', '13']],
      ['12', ['10', '11', '12', '13', '14']],
      ['20', ['10', '11']],
      ['9007199254740993', ['9007199254740993', '9007199254740994']],
    ] as const) {
      const data = { partition: 1, highWatermark: '30', messages: messages([...offsets]) };
      const fast = new batches.fast('t', fetched, data) as Record<string, unknown> & {
        firstOffset(): string | null;
      };
      const original = new batches.original('t', fetched, data) as typeof fast;
      expect({ ...fast }).toEqual({ ...original });
      expect(fast.firstOffset()).toBe(original.firstOffset());
      expect(fast).toBeInstanceOf(batches.original);
    }
  });

  it('drops every record of transactions that aborted, interleaved as several producers write them', () => {
    const marker = (type: number) => Buffer.from([0, 0, 0, type]);
    const record = (offset: number, producerId: string, control?: number) => ({
      offset: String(offset),
      key: control === undefined ? marker(0) : marker(control),
      value: Buffer.from([offset]),
      isControlRecord: control !== undefined,
      batchContext: { producerId, inTransaction: true, isControlBatch: control !== undefined },
    });
    // Producer 1's transaction starts first but ends last; producer 3's commits. A data record whose
    // key looks like an abort marker (producer 3's at 15) is data all the same.
    const messages = [
      record(10, '1'),
      record(11, '2'),
      record(12, '2', 0),
      record(13, '1'),
      record(14, '1', 0),
      record(15, '3'),
      record(16, '3', 1),
    ];
    // The broker lists aborted transactions by where they end.
    const abortedTransactions = [
      { producerId: '2', firstOffset: '11' },
      { producerId: '1', firstOffset: '10' },
    ];
    const data = (filter: typeof abortedFilters.fixed) =>
      filter({ messages, abortedTransactions })
        .filter((m) => !m.isControlRecord)
        .map((m) => m.offset);
    expect(data(abortedFilters.fixed)).toEqual(['15']);
    // kafkajs's own filter returned the record producer 1 wrote before producer 2's start.
    expect(data(abortedFilters.original)).toContain('10');
    const batch = new batches.fast('t', '10', {
      partition: 0,
      highWatermark: '17',
      messages,
      abortedTransactions,
    });
    expect((batch as unknown as { messages: { offset: string }[] }).messages.map((m) => m.offset)).toEqual([
      '15',
    ]);
  });
});

describe('a fetched partition kept as bytes', () => {
  const require = createRequire(import.meta.url);
  const Decoder = require('kafkajs/src/protocol/decoder.js') as new (
    buffer: Buffer,
  ) => { offset: number; buffer: Buffer };
  const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as {
    RecordBatch(args: Record<string, unknown>): Promise<{ buffer: Buffer }>;
  };
  const GZIP = 1;
  const CONTROL = 0x20;
  const LOG_APPEND_TIME = 0x08;
  const T0 = 1_700_000_000_000;

  /** A record batch as a broker sends it; `flags` are set in its attributes (control, append time). */
  async function recordBatch(
    firstOffset: number,
    records: { key: string | Buffer | null; value: string | null; headers?: Record<string, string> }[],
    options: { producerId?: number; transactional?: boolean; compression?: number; flags?: number } = {},
  ): Promise<Buffer> {
    const encoded = records.map((r, i) => encodeRecord({ ...r, offsetDelta: i, timestampDelta: i * 10 }));
    const { buffer } = await RecordBatch({
      firstOffset: String(firstOffset),
      firstTimestamp: T0 + firstOffset,
      maxTimestamp: T0 + firstOffset + 999,
      lastOffsetDelta: records.length - 1,
      producerId: options.producerId ?? -1,
      transactional: options.transactional ?? false,
      compression: options.compression ?? 0,
      records: encoded,
    });
    if (options.flags) buffer.writeInt16BE(buffer.readInt16BE(21) | options.flags, 21);
    return buffer;
  }

  const abortMarker = Buffer.from([0, 0, 0, 0]);
  const commitMarker = Buffer.from([0, 0, 0, 1]);
  /** A partition's record set: int32 size, then the batches (the last one cut short, as max bytes may). */
  async function recordSet(): Promise<Buffer> {
    const batches = [
      await recordBatch(
        0,
        [0, 1, 2, 3, 4].map((i) => ({ key: `k${i}`, value: JSON.stringify({ i, s: 'é✓' }) })),
        { compression: GZIP },
      ),
      await recordBatch(
        5,
        [
          { key: 'a', value: 'aborted' },
          { key: 'b', value: 'aborted', headers: { h: 'v' } },
          { key: null, value: 'x' },
        ],
        { producerId: 7, transactional: true },
      ),
      await recordBatch(8, [{ key: abortMarker, value: null }], {
        producerId: 7,
        transactional: true,
        flags: CONTROL,
      }),
      await recordBatch(
        9,
        [
          { key: null, value: null },
          { key: 'h', value: 'v', headers: { trace: 't' } },
          { key: 'c', value: 'committed' },
        ],
        {
          producerId: 8,
          transactional: true,
          compression: GZIP,
        },
      ),
      await recordBatch(12, [{ key: commitMarker, value: null }], {
        producerId: 8,
        transactional: true,
        flags: CONTROL,
      }),
      await recordBatch(
        13,
        [
          { key: 'late', value: '1' },
          { key: 'late', value: '2' },
        ],
        { flags: LOG_APPEND_TIME },
      ),
    ];
    const tail = await recordBatch(15, [{ key: 'cut', value: 'short' }]);
    const set = Buffer.concat([...batches, tail.subarray(0, tail.length - 5)]);
    const size = Buffer.alloc(4);
    size.writeInt32BE(set.length);
    return Buffer.concat([size, set, Buffer.from([9, 9])]);
  }

  const methods = [
    'isEmpty',
    'isEmptyIncludingFiltered',
    'isEmptyDueToFiltering',
    'isEmptyControlRecord',
    'isEmptyDueToLogCompactedMessages',
    'firstOffset',
    'lastOffset',
    'offsetLag',
    'offsetLagLow',
  ] as const;
  type AnyBatch = Record<(typeof methods)[number], () => unknown> & {
    topic: string;
    partition: number;
    messages: { offset: string; key: Buffer | null; value: Buffer | null; timestamp: string }[];
  };

  it('shows every consumer the batch kafkajs would, and the pipeline the same records without decoding them', async () => {
    const bytes = await recordSet();
    const original = new Decoder(bytes);
    const lazy = new Decoder(bytes);
    const decoded = (await messageDecoders.original(original as never)) as never;
    const kept = (await messageDecoders.lazy(lazy as never)) as never;
    expect(Array.isArray(decoded)).toBe(true);
    expect(Array.isArray(kept)).toBe(false);
    expect(lazy.offset).toBe(original.offset);
    // Producer 7's transaction aborted (its marker at 8); producer 8's committed.
    const abortedTransactions = [{ producerId: '7', firstOffset: '5' }];
    let compared = 0;
    for (const fetched of ['0', '3', '6', '9', '11', '12', '13', '14', '16']) {
      const data = { partition: 2, highWatermark: '20', abortedTransactions };
      const expected = new batches.original('t', fetched, {
        ...data,
        messages: decoded,
      }) as unknown as AnyBatch;
      const batch = new batches.fast('t', fetched, { ...data, messages: kept }) as unknown as AnyBatch;
      for (const method of methods)
        expect([fetched, method, batch[method]()]).toEqual([fetched, method, expected[method]()]);
      expect(batch.messages.length).toBe(expected.messages.length);
      expect([...batch.messages]).toEqual(expected.messages);
      const records = fetchedRecords(batch);
      const asRecords = expected.messages.map((m) => ({
        topic: 't',
        partition: 2,
        offset: m.offset,
        key: m.key,
        value: m.value,
        timestamp: Number(m.timestamp),
      }));
      expect(records.slice(0, records.length)).toEqual(asRecords);
      expect(fetchedRecords(expected).slice(0, Number.MAX_SAFE_INTEGER)).toEqual(asRecords);
      expect(Array.from({ length: records.length }, (_, i) => records.offset(i))).toEqual(
        asRecords.map((r) => Number(r.offset)),
      );
      // A list a consumer may change, as kafkajs's own.
      batch.messages.reverse();
      expect(batch.messages).toEqual([...expected.messages].reverse());
      compared += asRecords.length;
    }
    // The fetches from 0 saw the gzip batch, the committed records with a header and null key and
    // value, and the append-time ones; none of the aborted ones.
    expect(compared).toBeGreaterThan(20);
    const all = fetchedRecords(
      new batches.fast('t', '0', {
        partition: 2,
        highWatermark: '20',
        abortedTransactions,
        messages: kept,
      }) as never,
    );
    expect(Array.from({ length: all.length }, (_, i) => all.offset(i))).toEqual([
      0, 1, 2, 3, 4, 9, 10, 11, 13, 14,
    ]);
    expect(all.slice(8, 10).map((r) => r.timestamp)).toEqual([T0 + 13 + 999, T0 + 13 + 999]);
  });

  it('leaves a record that does not parse to kafkajs, and reads what kafkajs reads', async () => {
    const good = await recordBatch(0, [
      { key: 'a', value: '1' },
      { key: 'b', value: '2' },
    ]);
    const bad = await recordBatch(2, [
      { key: 'c', value: '3' },
      { key: 'QQ', value: '4' },
      { key: 'd', value: '5' },
    ]);
    // The second record's key says 63 bytes, past the record's end.
    bad[bad.indexOf('QQ') - 1] = 0x7e;
    const after = await recordBatch(5, [{ key: 'e', value: '6' }]);
    const set = Buffer.concat([good, bad, after]);
    const bytes = Buffer.concat([Buffer.alloc(4), set]);
    bytes.writeInt32BE(set.length);
    const decoded = (await messageDecoders.original(new Decoder(bytes) as never)) as never;
    const kept = (await messageDecoders.lazy(new Decoder(bytes) as never)) as never;
    const data = { partition: 0, highWatermark: '6' };
    const expected = new batches.original('t', '0', { ...data, messages: decoded }) as unknown as AnyBatch;
    const batch = new batches.fast('t', '0', { ...data, messages: kept }) as unknown as AnyBatch;
    // kafkajs reads what the record holds (its key cut at the record's end) and goes on.
    expect(expected.messages.map((m) => m.offset)).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(expected.messages[3]?.key?.length).toBeLessThan(63);
    expect([...batch.messages]).toEqual(expected.messages);
    const records = fetchedRecords(batch);
    expect(records.slice(0, records.length).map((r) => [r.offset, r.key, r.value])).toEqual(
      expected.messages.map((m) => [m.offset, m.key, m.value]),
    );
  });

  it('leaves to kafkajs a partition whose offsets a number cannot hold', async () => {
    const batch = await recordBatch(2 ** 53 + 2, [{ key: 'k', value: 'v' }]);
    const size = Buffer.alloc(4);
    size.writeInt32BE(batch.length);
    const bytes = Buffer.concat([size, batch]);
    const kept = (await messageDecoders.lazy(new Decoder(bytes) as never)) as { offset: string }[];
    expect(kept.map((m) => m.offset)).toEqual(['9007199254740994']);
  });
});

describe('Kafka round trip through the local broker', () => {
  const cfg = loadConfig();
  let kafka: Kafka;
  const topic = `test-roundtrip-${randomUUID()}`;

  beforeAll(async () => {
    kafka = createKafka(cfg, 'test');
    const admin = kafka.admin();
    await admin.connect();
    const created = await ensureTopics(admin, [{ topic, numPartitions: 4, replicationFactor: 1 }]);
    expect(created).toEqual([topic]);
    expect(await ensureTopics(admin, [{ topic, numPartitions: 4, replicationFactor: 1 }])).toEqual([]);
    await admin.disconnect();
  });

  afterAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  });

  it('warns when the events topic has another partition count than the setting, never when it matches', async () => {
    const settings = { eventsTopic: topic, quarantineTopic: `${topic}.quarantine` };
    const warning = await eventsPartitionsWarning(kafka, { ...settings, eventsPartitions: 6 });
    expect(warning).toMatch(/has 4 partitions and TIDEWATER_EVENTS_PARTITIONS is 6: .* set it to 4\./);
    expect(await eventsPartitionsWarning(kafka, { ...settings, eventsPartitions: 4 })).toBeUndefined();
  });

  it('delivers every produced record once, with its key and bytes, one partition per key', async () => {
    const producer = new BatchingProducer(kafka, { topic, batchSize: 700, maxInFlight: 3 });
    await producer.connect();
    const sent = new Map<string, string>();
    for (let i = 0; i < 5_000; i++) {
      const value = JSON.stringify({ i, user: `u${i % 37}`, pad: 'x'.repeat(i % 300) });
      sent.set(String(i), value);
      await producer.push({ key: `u${i % 37}`, value });
    }
    await producer.push({ key: 'with-header', value: 'h', headers: { source: 'test' } });
    await producer.disconnect();
    expect(producer.acknowledged).toBe(5_001);

    const received = await consumeAll(kafka, topic, 5_001);
    const byIndex = new Map<string, string>();
    const partitionOfKey = new Map<string, number>();
    for (const m of received) {
      const key = m.key?.toString() ?? '';
      if (key === 'with-header') {
        expect(m.headers?.source?.toString()).toBe('test');
        continue;
      }
      const value = m.value?.toString() ?? '';
      const parsed = JSON.parse(value) as { i: number; user: string };
      expect(key).toBe(parsed.user);
      expect(byIndex.has(String(parsed.i))).toBe(false);
      byIndex.set(String(parsed.i), value);
      const p = partitionOfKey.get(key);
      if (p === undefined) partitionOfKey.set(key, m.partition);
      else expect(m.partition).toBe(p);
    }
    expect(byIndex).toEqual(sent);
    expect(new Set(partitionOfKey.values()).size).toBeGreaterThan(1);

    // The same records as the pipeline takes them from the broker: indexed, not decoded by kafkajs.
    const consumer = kafka.consumer({ groupId: `test-${randomUUID()}`, maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const taken = new Map<string, string>();
    let indexed = 0;
    try {
      await new Promise<void>((resolve, reject) => {
        void consumer
          .run({
            eachBatch: async ({ batch }) => {
              if (types.isProxy(batch.messages)) indexed++;
              const records = fetchedRecords(batch);
              for (const r of records.slice(0, records.length)) {
                expect(r).toMatchObject({ topic, partition: batch.partition });
                taken.set(
                  r.key?.toString() === 'with-header' ? 'h' : JSON.parse(String(r.value)).i,
                  String(r.value),
                );
              }
              if (taken.size >= 5_001) resolve();
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
    }
    expect(indexed).toBeGreaterThan(0);
    taken.delete('h');
    expect(new Map([...taken].map(([i, v]) => [String(i), v]))).toEqual(sent);
  });
});

describe('kafkajs log lines', () => {
  // Entries as kafkajs 2.2.4 makes them when a member joins a group (seen on the local broker).
  const entry = (namespace: string, level: number, label: string, log: Record<string, unknown>) => ({
    namespace,
    level,
    label,
    log: { timestamp: '2025-06-01T10:00:00.000Z', logger: 'kafkajs', ...log } as never,
  });
  const rebalancing = 'The group is rebalancing, so a rejoin is needed';
  const heartbeat = entry('Connection', 1, 'ERROR', {
    message: 'Response Heartbeat(key: 12, version: 3)',
    broker: '127.0.0.1:9092',
    clientId: 'tidewater-speed',
    error: rebalancing,
    correlationId: 9,
    size: 10,
  });
  const rejoining = entry('Runner', 2, 'WARN', {
    message: 'The group is rebalancing, re-joining',
    groupId: 'tidewater-speed',
    memberId: 'tidewater-speed-1f2e',
    error: rebalancing,
  });
  const unknownMember = entry('Runner', 1, 'ERROR', {
    message: 'The coordinator is not aware of this member, re-joining the group',
    groupId: 'tidewater-lake',
    memberId: 'tidewater-lake-9a8b',
    error: 'The coordinator is not aware of this member',
  });
  const unreachable = entry('BrokerPool', 1, 'ERROR', {
    message: 'Failed to connect to seed broker, trying another broker from the list',
    retryCount: 3,
    retryTime: 2400,
  });

  // The first group on a new broker waits for its offsets topic (seen on the local broker).
  const noCoordinator = entry('Connection', 1, 'ERROR', {
    message: 'Response GroupCoordinator(key: 10, version: 2)',
    broker: '127.0.0.1:9092',
    clientId: 'tidewater-speed',
    error: 'The group coordinator is not available',
  });

  // A transactional producer restarted after a crash, while the broker aborts the dead one's transaction.
  const concurrentAnswer = {
    broker: '127.0.0.1:9092',
    clientId: 'tidewater-quarantine',
    error:
      'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing',
  };
  const concurrent = entry('Connection', 1, 'ERROR', {
    message: 'Response InitProducerId(key: 22, version: 1)',
    ...concurrentAnswer,
  });
  // The same answer anywhere but in the broker's reply is kafkajs giving up: still ERROR.
  const concurrentElsewhere = entry('Producer', 1, 'ERROR', {
    message: 'Failed to send',
    ...concurrentAnswer,
  });

  it('logs a group re-join as info, the broker answers behind it or a retried transaction as debug, and keeps ERROR for the rest', () => {
    expect(
      [rejoining, unknownMember, heartbeat, noCoordinator, concurrent, concurrentElsewhere, unreachable].map(
        levelOf,
      ),
    ).toEqual(['info', 'info', 'debug', 'debug', 'debug', 'error', 'error']);
  });

  it('writes one readable line: time, level, namespace, message, then the fields that matter', () => {
    expect(formatEntry(rejoining)).toBe(
      '2025-06-01T10:00:00.000Z INFO  kafka [Runner] The group is rebalancing, re-joining ' +
        `groupId=tidewater-speed memberId=tidewater-speed-1f2e error="${rebalancing}"`,
    );
    expect(formatEntry(heartbeat)).not.toMatch(/correlationId|size|logger|\n/);
    const failed = entry('Runner', 1, 'ERROR', {
      message: 'Error when calling eachBatch',
      error: new Error('disk full'),
    });
    expect(formatEntry(failed)).toMatch(/ error="disk full"$/);
  });

  it('shows at LOG_LEVEL=info the re-joins but not the broker answers behind them', () => {
    const lines: [Level, string][] = [];
    const log = kafkaLogCreator('info', (level, line) => lines.push([level, line]))(2);
    for (const e of [heartbeat, rejoining, unknownMember, unreachable]) log(e);
    expect(lines.map(([level]) => level)).toEqual(['info', 'info', 'error']);
    lines.length = 0;
    const quiet = kafkaLogCreator('warn', (level, line) => lines.push([level, line]))(2);
    for (const e of [heartbeat, rejoining, unknownMember, unreachable]) quiet(e);
    expect(lines.map(([level]) => level)).toEqual(['error']);
  });

  it('a real group re-balancing on the local broker logs no ERROR or WARN', async () => {
    const cfg = loadConfig();
    const topic = `test-rebalance-${randomUUID()}`;
    const groupId = `test-rebalance-${randomUUID()}`;
    const lines: [Level, string][] = [];
    const sink = (level: Level, line: string) => lines.push([level, line]);
    // The topic is set up by an admin whose lines are not judged: a broker answers for a topic just
    // created before it serves it, and a consumer that meets that re-joins by another path, unlogged.
    const admin = createKafka(cfg, 'test', () => {}).admin();
    await admin.connect();
    await ensureTopics(admin, [{ topic, numPartitions: 4, replicationFactor: 1 }]);
    await expect
      .poll(
        () =>
          admin.fetchTopicOffsets(topic).then(
            (offsets) => offsets.length,
            () => 0,
          ),
        { timeout: 30_000 },
      )
      .toBe(4);
    const consumers = [];
    try {
      // A second member joining makes the coordinator tell the first to re-join at its next heartbeat.
      for (const name of ['first', 'second']) {
        const consumer = createKafka(cfg, `test-${name}`, sink).consumer({ groupId, heartbeatInterval: 300 });
        await consumer.connect();
        await consumer.subscribe({ topic });
        const joined = new Promise((resolve) => consumer.on(consumer.events.GROUP_JOIN, resolve));
        await consumer.run({ eachBatch: async () => {} });
        await joined;
        consumers.push(consumer);
      }
      // Polls the lines themselves, so that a failure prints what kafkajs did say.
      await expect
        .poll(() => lines.map(([level, line]) => `${level} ${line}`), { timeout: 30_000 })
        .toContainEqual(expect.stringContaining('re-joining'));
    } finally {
      for (const consumer of consumers) await consumer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.disconnect();
    }
    expect(lines.filter(([level]) => level === 'error' || level === 'warn').map(([, line]) => line)).toEqual(
      [],
    );
    expect(lines.find(([, line]) => line.includes('re-joining'))?.[0]).toBe('info');
  });
});
