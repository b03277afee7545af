import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.ts';
import { buildDimensions, decodeEvent } from '../contracts/index.ts';
import { generate } from '../generator/index.ts';
import type { Kafka } from '../kafka/index.ts';
import {
  BatchingProducer,
  createKafka,
  ensureTopics,
  MAX_REQUEST_BYTES,
  produceRequests,
} from '../kafka/index.ts';
import {
  listLog,
  MALFORMED_QUARANTINE_RULE,
  openQuarantineStore,
  openQuarantineTable,
  QuarantineLakeWriter,
  quarantineTableDir,
} from '../lake/index.ts';
import { stageQuarantineRows } from '../lake/quarantine-table.ts';
import { quarantineRowOf } from '../lake/quarantine-writer.ts';
import {
  decodeQuarantine,
  encodeQuarantine,
  MAX_QUARANTINED_BYTES,
  MAX_TIME_MS,
  QuarantinePublisher,
  type QuarantineStore,
  renderOriginal,
  replayQuarantine,
  sourceId,
  type ValidationResult,
} from '../quality/quarantine/index.ts';
import type { RawMessage, RejectedRecord, RuleFailure } from '../quality/types.ts';
import { consumeAll, type ReceivedMessage } from './support/kafka.ts';

/** Not valid UTF-8 in any position: a lone continuation byte, a truncated sequence, 0xFF. */
const INVALID_UTF8 = Buffer.from([0x80, 0xe2, 0x82, 0xff, 0x00]);

describe('quarantine wire format', () => {
  const record: RejectedRecord = {
    source: {
      topic: 'events',
      partition: 2,
      offset: '9007199254740993',
      key: Buffer.from([0xff, 0x00, 0x01]),
      value: Buffer.concat([Buffer.from('{"eventId":'), INVALID_UTF8]),
      timestamp: 1_735_689_600_123,
    },
    failures: [
      { ruleId: 'contract', severity: 'quarantine', message: '(root): invalid JSON' },
      { ruleId: 'contract', severity: 'quarantine', message: 'again' },
    ],
    rejectedAt: 1_735_689_601_000,
  };

  it('round-trips a record, undecodable bytes byte for byte, keyed by source coordinates', () => {
    const out = encodeQuarantine(record);
    expect(out.key).toBe('events:2:9007199254740993');
    const value = Buffer.from(out.value);
    expect(JSON.parse(value.toString()).ruleIds).toEqual(['contract']);
    const back = decodeQuarantine(value);
    expect(back).toEqual(record);
    expect(back.source.value?.equals(record.source.value as Buffer)).toBe(true);
  });

  it('keys by eventId when known and keeps a missing value apart from an empty one', () => {
    const withEvent = { ...record, eventId: 'e-1', eventType: 'cart.add', eventTime: '2025-01-01T00:00:00Z' };
    expect(encodeQuarantine(withEvent).key).toBe('e-1');
    expect(decodeQuarantine(Buffer.from(encodeQuarantine(withEvent).value))).toEqual(withEvent);
    for (const value of [null, Buffer.alloc(0)]) {
      const r = { ...record, source: { ...record.source, key: null, value } };
      expect(decodeQuarantine(Buffer.from(encodeQuarantine(r).value)).source).toEqual(r.source);
    }
  });

  it('refuses a malformed message', () => {
    expect(() => decodeQuarantine(Buffer.from('{"sourceTopic":"events"}'))).toThrow();
    expect(() => decodeQuarantine(null)).toThrow(/no value/);
  });

  it('renders originals as text only when they are valid UTF-8', () => {
    expect(renderOriginal(Buffer.from('{"a":"é"}'))).toEqual({ encoding: 'utf8', text: '{"a":"é"}' });
    expect(renderOriginal(INVALID_UTF8)).toEqual({
      encoding: 'base64',
      text: INVALID_UTF8.toString('base64'),
    });
    expect(renderOriginal(null)).toBeNull();
  });

  it('keeps at most MAX_QUARANTINED_BYTES of a key or value, and cuts produce requests by bytes', () => {
    const huge = {
      ...record,
      source: { ...record.source, key: Buffer.alloc(900_000, 1), value: Buffer.alloc(1_000_000, 2) },
    };
    const encoded = encodeQuarantine(huge);
    const decoded = decodeQuarantine(Buffer.from(encoded.value));
    expect(decoded.source.value).toEqual(Buffer.alloc(MAX_QUARANTINED_BYTES, 2));
    expect(decoded.source.key).toEqual(Buffer.alloc(MAX_QUARANTINED_BYTES, 1));
    const requests = produceRequests(
      Array.from({ length: 40 }, () => encoded),
      500,
    );
    expect(requests.flat()).toHaveLength(40);
    for (const request of requests) {
      const bytes = request.reduce(
        (n, r) => n + Buffer.byteLength(r.value) + Buffer.byteLength(r.key ?? ''),
        0,
      );
      expect(bytes).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
    }
    expect(produceRequests([encodeQuarantine(record)], 500)).toHaveLength(1);
  });
});

// A stand-in for the quality gate: the contract, plus a catalog rule that can be switched off to
// play a rule change (say, new products were added to the catalog).
const knownProducts = new Set(buildDimensions().products.map((p) => p.productId));
const rules = { checkCatalog: true };

function productIds(payload: Record<string, unknown>): string[] {
  const lines = (payload.lines ?? []) as { productId: string }[];
  return [payload.productId, ...lines.map((l) => l.productId)].filter(
    (id): id is string => typeof id === 'string',
  );
}

function currentRules(raw: RawMessage): ValidationResult {
  const decoded = decodeEvent(raw.value ?? Buffer.alloc(0));
  if (!decoded.ok) {
    return {
      ok: false,
      failures: decoded.errors.map((message) => ({ ruleId: 'contract', severity: 'quarantine', message })),
    };
  }
  const unknown = productIds(decoded.event.payload as Record<string, unknown>).filter(
    (id) => !knownProducts.has(id),
  );
  if (rules.checkCatalog && unknown.length > 0) {
    const failures: RuleFailure[] = [
      { ruleId: 'catalog.product', severity: 'quarantine', message: `unknown product ${unknown.join(', ')}` },
    ];
    return { ok: false, failures };
  }
  return { ok: true };
}

/** What the JSON reveals about the event, as the gate reports it. */
function peek(value: Buffer): Pick<RejectedRecord, 'eventId' | 'eventType' | 'eventTime'> {
  try {
    const json = JSON.parse(value.toString()) as Record<string, unknown>;
    const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
    return { eventId: text(json.eventId), eventType: text(json.eventType), eventTime: text(json.eventTime) };
  } catch {
    return {};
  }
}

const START = Date.UTC(2025, 0, 1, 23, 0);
const MIDNIGHT = Date.UTC(2025, 0, 2);

/** Rejections of generated bad records, 30 s apart from 23:00 so that they span two days. */
function rejections(sourceTopic: string): RejectedRecord[] {
  const out: RejectedRecord[] = [];
  for (const [i, g] of [...generate({ badFraction: 1, count: 220, seed: 11 })].entries()) {
    // Truncated JSON is still text; make some of it undecodable bytes as well.
    const value = g.kind === 'invalid_json' && i % 2 === 0 ? Buffer.concat([g.value, INVALID_UTF8]) : g.value;
    const source = {
      topic: sourceTopic,
      partition: i % 4,
      offset: String(1000 + i),
      key: Buffer.from(g.key),
      value,
      timestamp: START + i * 30_000,
    };
    const verdict = currentRules(source);
    if (verdict.ok) throw new Error(`generated bad record ${i} passes the rules`);
    out.push({ source, ...peek(value), failures: verdict.failures, rejectedAt: START + i * 30_000 + 5 });
  }
  return out;
}

/** Every row of the quarantine table's newest version, read from its files without the store. */
async function rowsOf(store: QuarantineStore): Promise<Record<string, unknown>[]> {
  const files = await store.files();
  if (files.length === 0) return [];
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const list = files.map((f) => `'${f}'`).join(', ');
    const reader = await connection.runAndReadAll(
      `SELECT * FROM read_parquet([${list}], hive_partitioning = true)`,
    );
    return reader.getRowObjectsJS();
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

describe('quarantine through the local broker and the lake', () => {
  const cfg = loadConfig();
  const run = randomUUID();
  const eventsTopic = `events-test-${run}`;
  const quarantineTopic = `events.quarantine-test-${run}`;
  let kafka: Kafka;
  let dataDir: string;
  let root: string;
  let store: QuarantineStore;
  const records = rejections(eventsTopic);
  const first = records.slice(0, 200);
  const byId = new Map(
    records.map((r) => [sourceId(r.source.topic, r.source.partition, r.source.offset), r]),
  );

  const writer = (groupId = `lake-${run}`) =>
    new QuarantineLakeWriter({ kafka, topic: quarantineTopic, root, groupId });

  async function publish(batch: RejectedRecord[]): Promise<void> {
    const publisher = new QuarantinePublisher(kafka, { topic: quarantineTopic, batchSize: 64 });
    await publisher.connect();
    try {
      await publisher.publish(batch);
    } finally {
      await publisher.disconnect();
    }
  }

  const tableRows = () => rowsOf(store);

  /** The files of the table's newest version, relative to its root. */
  async function tableFiles(): Promise<string[]> {
    return (await store.files()).map((f) => f.slice(root.length + 1)).sort();
  }

  async function topicOffsets(topic: string) {
    const admin = kafka.admin();
    await admin.connect();
    try {
      return await admin.fetchTopicOffsets(topic);
    } finally {
      await admin.disconnect();
    }
  }

  async function messagesIn(topic: string): Promise<number> {
    return (await topicOffsets(topic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  }

  beforeAll(async () => {
    kafka = createKafka(cfg, 'test');
    dataDir = await mkdtemp(join(tmpdir(), 'tidewater-quarantine-'));
    root = quarantineTableDir(dataDir);
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [
      { topic: eventsTopic, numPartitions: 3, replicationFactor: 1 },
      { topic: quarantineTopic, numPartitions: 3, replicationFactor: 1 },
    ]);
    await admin.disconnect();
    store = await openQuarantineStore(root);
  });

  afterAll(async () => {
    store?.close();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [eventsTopic, quarantineTopic] }).catch(() => {});
    await admin.deleteGroups([`lake-${run}`, `lake-${run}-fresh`]).catch(() => {});
    await admin.disconnect();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('writes every published rejection to day-partitioned Parquet with its rules and exact bytes', async () => {
    await publish(first);
    await writer().runUntilCaughtUp();

    const rows = await tableRows();
    expect(rows).toHaveLength(200);
    for (const row of rows) {
      const r = byId.get(
        `${row.source_topic}:${row.source_partition}:${row.source_offset}`,
      ) as RejectedRecord;
      expect(r).toBeDefined();
      expect(row.rule_ids).toEqual([...new Set(r.failures.map((f) => f.ruleId))]);
      expect(Buffer.from(row.original as Uint8Array).equals(r.source.value as Buffer)).toBe(true);
      expect(Buffer.from(row.source_key as Uint8Array).equals(r.source.key as Buffer)).toBe(true);
      expect((row.rejected_at as Date).getTime()).toBe(r.rejectedAt);
      expect((row.day as Date).toISOString().slice(0, 10)).toBe(
        new Date(r.rejectedAt).toISOString().slice(0, 10),
      );
      expect(row.event_id).toBe(r.eventId ?? null);
    }
    const undecodable = rows.filter(
      (r) => renderOriginal(Buffer.from(r.original as Uint8Array))?.encoding === 'base64',
    );
    expect(undecodable.length).toBeGreaterThan(5);
    // A Delta table: its files by day, and per quarantine partition how far it holds the topic.
    const files = await tableFiles();
    expect(files.every((f) => /^day=2025-01-0[12]\/part-[0-9a-f-]{36}\.parquet$/.test(f))).toBe(true);
    expect(new Set(files.map((f) => f.slice(0, 14)))).toEqual(new Set(['day=2025-01-01', 'day=2025-01-02']));
    expect((await listLog(root)).versions.length).toBeGreaterThan(1);
    const table = await openQuarantineTable(root);
    try {
      for (const { partition, high } of await topicOffsets(quarantineTopic))
        expect(await table.txnVersion(`${quarantineTopic}:${partition}`)).toBe(Number(high) || undefined);
    } finally {
      table.close();
    }
  });

  it('neither duplicates nor loses records when restarted, even from the beginning of the topic', async () => {
    const before = await tableFiles();
    const versions = (await listLog(root)).versions.length;
    await writer().runUntilCaughtUp();
    expect(await tableFiles()).toEqual(before);
    expect((await listLog(root)).versions).toHaveLength(versions);

    // A new group has no committed offsets, like a writer that crashed after every lake commit and
    // before any Kafka commit: it rereads all and must add only what the table does not hold yet.
    await publish(records.slice(200));
    await writer(`lake-${run}-fresh`).runUntilCaughtUp();
    const rows = await tableRows();
    expect(rows).toHaveLength(records.length);
    expect(new Set(rows.map((r) => `${r.quarantine_partition}:${r.quarantine_offset}`)).size).toBe(
      records.length,
    );
    await writer().runUntilCaughtUp();
    expect(await tableRows()).toHaveLength(records.length);
  });

  it('lists, counts and shows by rule, event type and time', async () => {
    const all = await store.list();
    expect(all).toHaveLength(records.length);
    expect(all.map((r) => r.rejectedAt)).toEqual(records.map((r) => new Date(r.rejectedAt).toISOString()));

    const catalog = records.filter((r) => r.failures.some((f) => f.ruleId === 'catalog.product'));
    expect(catalog.length).toBeGreaterThan(10);
    const listed = await store.list({ rule: 'catalog.product' });
    expect(listed.map((r) => r.id).sort()).toEqual(
      catalog.map((r) => sourceId(r.source.topic, r.source.partition, r.source.offset)).sort(),
    );

    const clicks = records.filter((r) => r.eventType === 'product.click');
    expect((await store.list({ eventType: 'product.click' })).length).toBe(clicks.length);
    const secondDay = records.filter((r) => r.rejectedAt >= MIDNIGHT);
    expect((await store.list({ from: new Date(MIDNIGHT).toISOString() })).length).toBe(secondDay.length);
    expect((await store.list({ to: new Date(MIDNIGHT), limit: 7 })).map((r) => r.id)).toEqual(
      all.slice(0, 7).map((r) => r.id),
    );
    // User input is bound, never spliced into SQL.
    expect(await store.list({ eventType: "x' OR true OR '" })).toEqual([]);

    const summary = await store.summary();
    expect(summary.total).toBe(records.length);
    const ruleCounts = new Map<string, number>();
    for (const r of records)
      for (const id of new Set(r.failures.map((f) => f.ruleId)))
        ruleCounts.set(id, (ruleCounts.get(id) ?? 0) + 1);
    expect(new Map(summary.byRule.map((r) => [r.ruleId, r.count]))).toEqual(ruleCounts);
    expect(summary.byEventType.reduce((n, r) => n + r.count, 0)).toBe(records.length);
    expect(summary.byEventType.find((r) => r.eventType === 'product.click')?.count).toBe(clicks.length);

    const undecodable = records.find((r) => r.source.value?.includes(INVALID_UTF8)) as RejectedRecord;
    const [shown] = await store.show(
      sourceId(undecodable.source.topic, undecodable.source.partition, undecodable.source.offset),
    );
    expect(shown?.original?.equals(undecodable.source.value as Buffer)).toBe(true);
    expect(renderOriginal(shown?.original ?? null)?.encoding).toBe('base64');
    expect(shown?.failures).toEqual(undecodable.failures);

    const withId = catalog[0] as RejectedRecord;
    const byEventId = await store.show(withId.eventId as string);
    expect(byEventId.map((r) => r.eventId)).toEqual([withId.eventId]);
    expect(renderOriginal(byEventId[0]?.original ?? null)).toEqual({
      encoding: 'utf8',
      text: withId.source.value?.toString(),
    });
    expect(await store.show('no-such-id')).toEqual([]);
  });

  it('replays what the current rules accept to the events topic, once', async () => {
    rules.checkCatalog = false;
    const passing = records.filter((r) => currentRules(r.source).ok);
    expect(passing.length).toBeGreaterThan(10);

    const dry = await replayQuarantine({ store, validate: currentRules, producer: null });
    expect(dry).toEqual({
      selected: records.length,
      republished: passing.length,
      stillFailing: records.length - passing.length,
      alreadyReplayed: 0,
    });
    expect(await messagesIn(eventsTopic)).toBe(0);

    const producer = new BatchingProducer(kafka, { topic: eventsTopic });
    await producer.connect();
    try {
      const progress: number[] = [];
      const counts = await replayQuarantine({
        store,
        validate: currentRules,
        producer,
        pageSize: 50,
        onProgress: (p) => progress.push(p.processed),
      });
      expect(counts).toEqual(dry);
      expect(progress.at(-1)).toBe(records.length);
      expect(progress.length).toBeGreaterThan(1);

      const received = await consumeAll(kafka, eventsTopic, passing.length);
      expect(received).toHaveLength(passing.length);
      const sent = new Map(passing.map((r) => [r.eventId, r.source]));
      for (const m of received) {
        const decoded = decodeEvent(m.value as Buffer);
        expect(decoded.ok).toBe(true);
        const source = sent.get(decoded.ok ? decoded.event.eventId : '');
        expect(m.value?.equals(source?.value as Buffer)).toBe(true);
        expect(m.key?.equals(source?.key as Buffer)).toBe(true);
        sent.delete(decoded.ok ? decoded.event.eventId : '');
      }
      expect(sent.size).toBe(0);

      const again = await replayQuarantine({ store, validate: currentRules, producer });
      expect(again).toEqual({
        selected: records.length,
        republished: 0,
        stillFailing: records.length - passing.length,
        alreadyReplayed: passing.length,
      });
      expect(await messagesIn(eventsTopic)).toBe(passing.length);

      const bySubset = await replayQuarantine({
        store,
        filter: { rule: 'catalog.product' },
        validate: currentRules,
        producer,
      });
      expect(bySubset).toEqual({
        selected: passing.length,
        republished: 0,
        stillFailing: 0,
        alreadyReplayed: passing.length,
      });
      expect((await store.list({ rule: 'catalog.product' })).every((r) => r.replayed)).toBe(true);
    } finally {
      await producer.disconnect();
      rules.checkCatalog = true;
    }
  });

  it('shows what the topic holds, a record published twice twice: publishing once is the publisher’s job', async () => {
    await publish([records[0] as RejectedRecord]);
    await writer().runUntilCaughtUp();
    expect(await tableRows()).toHaveLength(records.length + 1);
    expect((await store.summary()).total).toBe(records.length + 1);
    const { topic, partition, offset } = (records[0] as RejectedRecord).source;
    expect(await store.show(sourceId(topic, partition, offset))).toHaveLength(2);
  });
});

describe('quarantine table: an older layout, and messages that are not quarantine messages', () => {
  const cfg = loadConfig();
  const run = randomUUID();
  const topic = `events.quarantine-legacy-${run}`;
  const groupId = `quarantine-legacy-${run}`;
  let kafka: Kafka;
  let dataDir: string;

  beforeAll(async () => {
    kafka = createKafka(cfg, 'test');
    dataDir = await mkdtemp(join(tmpdir(), 'tidewater-quarantine-legacy-'));
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [{ topic, numPartitions: 1, replicationFactor: 1 }]);
    await admin.disconnect();
  });

  afterAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.deleteGroups([groupId]).catch(() => {});
    await admin.disconnect();
    await rm(dataDir, { recursive: true, force: true });
  });

  /**
   * Writes the messages as the writer before the Delta table did: Parquet files named by the
   * quarantine offsets they hold, timestamps not adjusted to UTC.
   */
  async function writeLegacyFile(root: string, messages: readonly ReceivedMessage[]): Promise<void> {
    // As the writer reads them (a quarantine message each).
    const rows = messages.map((m) => quarantineRowOf(topic, m.partition, { ...m, timestamp: '0' }));
    const day = new Date(rows[0]?.rejected_at ?? 0).toISOString().slice(0, 10);
    const first = messages[0]?.offset;
    const last = messages.at(-1)?.offset;
    await mkdir(join(root, `day=${day}`), { recursive: true });
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      const local = (c: string) => `make_timestamp(epoch_us(${c})) AS ${c}`;
      const staged = await stageQuarantineRows(rows)(connection);
      await connection.run(
        `COPY (SELECT * REPLACE (${local('rejected_at')}, ${local('source_timestamp')}, ${local('event_time')})
               FROM (${staged?.rows}))
         TO '${join(root, `day=${day}`, `part-0-${first}-${last}.parquet`)}' (FORMAT parquet)`,
      );
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  }

  it('converts the older part files once, resumes after them, and keeps a foreign message with its reason', async () => {
    const root = quarantineTableDir(dataDir);
    const records = rejections('events-legacy')
      .filter((r) => r.rejectedAt < MIDNIGHT)
      .slice(0, 30);
    const publisher = new QuarantinePublisher(kafka, { topic });
    await publisher.connect();
    await publisher.publish(records);
    const published = (await consumeAll(kafka, topic, records.length)).sort(
      (a, b) => Number(a.offset) - Number(b.offset),
    );
    // Written by the older writer, which then stopped: offsets 0-9 and 10-14.
    await writeLegacyFile(root, published.slice(0, 10));
    await writeLegacyFile(root, published.slice(10, 15));
    // Then someone produced what is not a quarantine message, and more rejections came.
    const producer = kafka.producer();
    await producer.connect();
    const foreign = [Buffer.from('not json'), Buffer.from(JSON.stringify({ sourceTopic: 'x' }))];
    await producer.send({ topic, messages: foreign.map((value) => ({ value })) });
    await producer.disconnect();
    const later = rejections('events-legacy-later').slice(0, 5);
    await publisher.publish(later);
    await publisher.disconnect();

    // A group with no committed offsets reads the topic from its start: the converted files say
    // where the table holds it to.
    await new QuarantineLakeWriter({ kafka, topic, root, groupId }).runUntilCaughtUp();
    const store = await openQuarantineStore(root);
    try {
      const rows = await rowsOf(store);
      expect(rows).toHaveLength(records.length + foreign.length + later.length);
      expect(new Set(rows.map((r) => r.quarantine_offset)).size).toBe(rows.length);
      for (const r of [...records, ...later]) {
        const [shown] = await store.show(sourceId(r.source.topic, r.source.partition, r.source.offset));
        expect(shown?.rejectedAt).toBe(new Date(r.rejectedAt).toISOString());
        expect(shown?.original?.equals(r.source.value as Buffer)).toBe(true);
      }
      const kept = rows.filter((r) => (r.rule_ids as string[]).includes(MALFORMED_QUARANTINE_RULE));
      expect(kept.map((r) => Buffer.from(r.original as Uint8Array).toString())).toEqual(
        foreign.map((b) => b.toString()),
      );
      for (const r of kept) {
        expect(r.source_topic).toBe(topic);
        expect((r.failures as { message: string }[])[0]?.message).toMatch(/^not a quarantine message: /);
      }
      const legacy = (await readdir(join(root, 'day=2025-01-01'))).filter((n) =>
        /^part-\d+-\d+-\d+\.parquet$/.test(n),
      );
      expect(legacy).toEqual([]);
    } finally {
      store.close();
    }
  });

  it('keeps a rejection with lone surrogates, and messages beyond what the table holds with their reason: no stall', async () => {
    const hostileTopic = `${topic}-hostile`;
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [{ topic: hostileTopic, numPartitions: 1, replicationFactor: 1 }]);
    await admin.disconnect();
    const value = Buffer.from('{"eventId":"e\\ud800"}');
    const record: RejectedRecord = {
      source: { topic: 'events', partition: 0, offset: '7', key: null, value, timestamp: START },
      eventId: 'e\ud800',
      eventType: 't\udfff',
      failures: [{ ruleId: 'storable', severity: 'quarantine', message: 'lone \ud800 here' }],
      rejectedAt: START,
    };
    const publisher = new QuarantinePublisher(kafka, { topic: hostileTopic });
    await publisher.connect();
    await publisher.publish([record]);
    await publisher.disconnect();
    // Quarantine messages with values no table column holds: an offset past 2^63, source times
    // whose microseconds overflow a timestamp (and which no Date holds), a partition past 2^31.
    const valid = JSON.parse(
      encodeQuarantine({ ...record, source: { ...record.source, offset: '8' } }).value as string,
    );
    const beyond = [
      { ...valid, sourceOffset: '99999999999999999999' },
      { ...valid, sourceTimestamp: Number.MAX_SAFE_INTEGER },
      { ...valid, sourceTimestamp: -Number.MAX_SAFE_INTEGER },
      { ...valid, sourcePartition: 2 ** 31 },
    ].map((m) => Buffer.from(JSON.stringify(m)));
    // And one at the edge: the largest offset the table's 64-bit column holds, kept exactly.
    const edge = Buffer.from(JSON.stringify({ ...valid, sourceOffset: '9223372036854775807' }));
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: hostileTopic, messages: [...beyond, edge].map((value) => ({ value })) });
    // Not a quarantine message, at a time a producer may set and no timestamp holds.
    const farOff = Buffer.from('not json, and far off in time');
    await producer.send({
      topic: hostileTopic,
      messages: [{ value: farOff, timestamp: '9000000000000000000' }],
    });
    await producer.disconnect();
    // DuckDB's JSON reader refuses lone surrogates, and each of the others fails a conversion:
    // without the writer's care one record would fail every stage of its range, and the writer
    // would never catch up.
    const root = join(dataDir, 'hostile');
    await new QuarantineLakeWriter({
      kafka,
      topic: hostileTopic,
      root,
      groupId: `${groupId}-hostile`,
    }).runUntilCaughtUp();
    const store = await openQuarantineStore(root);
    try {
      const [shown] = await store.show(sourceId('events', 0, '7'));
      expect(shown?.eventId).toBe('e\ufffd');
      expect(shown?.eventType).toBe('t\ufffd');
      expect(shown?.failures[0]?.message).toBe('lone \ufffd here');
      expect(shown?.original?.equals(value)).toBe(true);
      const rows = await rowsOf(store);
      expect(rows.find((r) => r.source_offset === 9223372036854775807n)?.rule_ids).toEqual(['storable']);
      const kept = rows
        .filter((r) => (r.rule_ids as string[]).includes(MALFORMED_QUARANTINE_RULE))
        .sort((a, b) => Number(a.quarantine_offset) - Number(b.quarantine_offset));
      expect(kept.map((r) => Buffer.from(r.original as Uint8Array))).toEqual([...beyond, farOff]);
      expect(kept.map((r) => (r.failures as { message: string }[])[0]?.message)).toEqual([
        expect.stringMatching(
          /^not a quarantine message: sourceOffset 9{20} is beyond the table's 64-bit offsets$/,
        ),
        expect.stringMatching(/^not a quarantine message: .*sourceTimestamp/s),
        expect.stringMatching(/^not a quarantine message: .*sourceTimestamp/s),
        expect.stringMatching(/^not a quarantine message: .*sourcePartition/s),
        expect.stringMatching(/^not a quarantine message: /),
      ]);
      // Kept at the last instant a Date holds.
      expect((kept[4]?.rejected_at as Date | undefined)?.valueOf()).toBe(MAX_TIME_MS);
    } finally {
      store.close();
      const cleanup = kafka.admin();
      await cleanup.connect();
      await cleanup.deleteTopics({ topics: [hostileTopic] }).catch(() => {});
      await cleanup.deleteGroups([`${groupId}-hostile`]).catch(() => {});
      await cleanup.disconnect();
    }
  });
});
