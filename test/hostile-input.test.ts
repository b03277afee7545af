// Hostile input through the running platform, from a fixed seed: thousands of records made from
// good events (lone surrogates, bytes that are not UTF-8, deep nesting, prototype keys, huge and
// unsafe numbers, wrong types, repeated keys, oversized records, tombstones, and variants that must
// read as their event) sent over HTTP, as JSON arrays and NDJSON, and straight into Kafka. No answer
// may be a 5xx; every record is either counted or quarantined once with the rule that refused it;
// afterwards the speed view, the lake and the ground truth agree. Then the record that stalled the
// lake (a lone surrogate in userId) must be passed within a minute and show in quarantine.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../cli/platform.ts';
import type { Config } from '../config/index.ts';
import { Rng, type TidewaterEvent } from '../contracts/index.ts';
import { openDuck } from '../duckdb/index.ts';
import { type GeneratedRecord, GroundTruth, generate } from '../generator/index.ts';
import { BatchingProducer, createKafka } from '../kafka/index.ts';
import {
  EVENTS_SCHEMA,
  lakeTableDir,
  openQuarantineStore,
  openTable,
  quarantineTableDir,
} from '../lake/index.ts';
import type { QuarantinedRecord } from '../quality/index.ts';
import { HOSTILE_KINDS, type HostileRecord, hostileRecords } from './support/hostile.ts';
import { isolation } from './support/isolation.ts';
import { answerOrderCells, truthOrderCells, waitForCatchUp } from './support/speed.ts';

const isolated = isolation('hostile');
const START = '2025-06-01T10:00:00Z';
const FROM = '2025-06-01T10:00:00Z';
const TO = '2025-06-01T12:00:00Z';
const RECORDS = 6_000;

type Channel = 'kafka' | 'ndjson' | 'json';
/** Records an NDJSON line or a JSON array item cannot carry as they are. */
const KAFKA_OR_JSON = new Set(['pretty_printed']);
const KAFKA_OR_NDJSON = new Set(['truncated', 'byte_order_mark']);

interface Sent {
  value: Buffer | null;
  /** The rule that must refuse it; undefined: it must be counted. */
  rule: string | undefined;
  kind: string;
}

let cfg: Config;
let platform: Platform;
const truth = new GroundTruth();
/** Expected quarantine entries by their original bytes (hex; '-' for a tombstone). */
const expected = new Map<string, Sent[]>();
const answers: { status: number; body: string }[] = [];
const mismatches: string[] = [];

const bytesKey = (value: Buffer | null) => (value === null ? '-' : value.toString('hex'));

function channelOf(kind: string, rng: Rng): Channel {
  if (kind === 'tombstone') return 'kafka';
  const choices: Channel[] = KAFKA_OR_JSON.has(kind)
    ? ['kafka', 'json']
    : KAFKA_OR_NDJSON.has(kind)
      ? ['kafka', 'ndjson']
      : ['kafka', 'ndjson', 'json'];
  return rng.pick(choices);
}

async function post(format: 'ndjson' | 'json', records: readonly Sent[]): Promise<void> {
  const values = records.map((r) => r.value as Buffer);
  const body =
    format === 'ndjson'
      ? Buffer.concat(values.flatMap((v) => [v, Buffer.from('\n')]))
      : Buffer.concat([
          Buffer.from('['),
          ...values.flatMap((v, i) => (i ? [Buffer.from(',\n'), v] : [v])),
          Buffer.from(']'),
        ]);
  const response = await fetch(`${platform.url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': format === 'ndjson' ? 'application/x-ndjson' : 'application/json' },
    body,
  });
  const text = await response.text();
  answers.push({ status: response.status, body: text.slice(0, 300) });
  if (response.status !== 202) return;
  const answer = JSON.parse(text) as { rejections: { index: number; rules: string[] }[]; accepted: number };
  const rejected = new Map(answer.rejections.map((r) => [r.index, r.rules.join()]));
  records.forEach((record, index) => {
    const got = rejected.get(index) ?? 'counted';
    if (got !== (record.rule ?? 'counted')) mismatches.push(`${record.kind} over HTTP ${format}: ${got}`);
  });
}

beforeAll(async () => {
  const env = await isolated('fuzz');
  cfg = {
    ...env.cfg,
    apiPort: 0,
    auth: false,
    queuePrefix: `hostile-${env.groupId}`,
    // The tests wait for the lake to catch up: its last ranges need not wait a minute for their
    // commit (the poison record's test measures that the lake goes past it, not the commit age).
    lakeCommitSeconds: 1,
  };
  platform = await startPlatform(cfg, { roles: ['speed', 'lake', 'serve'], demo: false, log: () => {} });

  const good = [...generate({ seed: 20, count: RECORDS, start: START, rate: 60 })].filter(
    (r) => r.kind === 'good',
  );
  const rng = new Rng(21);
  const hostile = hostileRecords(
    good.filter(() => rng.chance(0.45)),
    22,
  );
  const byOrigin = new Map<GeneratedRecord, HostileRecord>(hostile.map((h) => [h.origin, h]));
  const kafkaRecords: { key: string; value: Buffer | null }[] = [];
  const http: Record<'ndjson' | 'json', Sent[]> = { ndjson: [], json: [] };
  for (const origin of good) {
    const h = byOrigin.get(origin);
    const sent: Sent = h
      ? { value: h.value, rule: h.rule, kind: h.kind }
      : { value: origin.value, rule: undefined, kind: 'good' };
    if (sent.rule === undefined) truth.add(origin);
    else expected.set(bytesKey(sent.value), [...(expected.get(bytesKey(sent.value)) ?? []), sent]);
    const channel = channelOf(sent.kind, rng);
    if (channel === 'kafka') kafkaRecords.push({ key: origin.key, value: sent.value });
    else http[channel].push(sent);
  }
  expect(new Set(hostile.map((h) => h.kind))).toEqual(new Set(HOSTILE_KINDS));

  const kafka = createKafka(cfg, 'hostile');
  const producer = new BatchingProducer(kafka, { topic: cfg.eventsTopic, batchSize: 200 });
  await producer.connect();
  try {
    // kafkajs types a tombstone's value as Buffer | null; BatchingProducer's records take it as is.
    for (const record of kafkaRecords) await producer.push(record as { key: string; value: Buffer });
    await producer.flush();
  } finally {
    await producer.disconnect();
  }
  for (const format of ['ndjson', 'json'] as const) {
    for (let i = 0; i < http[format].length; i += 150) await post(format, http[format].slice(i, i + 150));
  }
  await waitForCatchUp(kafka, cfg.speedGroup, cfg.eventsTopic, 90_000);
  await waitForCatchUp(kafka, cfg.lakeGroup, cfg.eventsTopic, 90_000);
  await waitForCatchUp(kafka, cfg.quarantineGroup, cfg.quarantineTopic, 60_000);
}, 240_000);

afterAll(async () => {
  await platform?.stop();
});

/** Every record of the quarantine table, with its bytes. */
async function quarantined(): Promise<QuarantinedRecord[]> {
  const store = await openQuarantineStore(quarantineTableDir(cfg.dataDir));
  try {
    return await store.replayPage({}, undefined, 1_000_000);
  } finally {
    store.close();
  }
}

/** The lake's order.created events per minute and region, and its events per type. */
async function lakeFigures() {
  const table = await openTable(lakeTableDir(cfg.dataDir), EVENTS_SCHEMA);
  const duck = await openDuck();
  try {
    const source = table.readSql(await table.refresh());
    const cells = (
      await duck.connection.runAndReadAll(
        `SELECT epoch_ms(date_trunc('minute', event_time)) AS minute, region,
                count(*) FILTER (WHERE line_index = 0) AS orders,
                sum(total_minor) FILTER (WHERE line_index = 0) AS revenue_minor, sum(quantity) AS units
         FROM ${source} WHERE event_type = 'order.created' GROUP BY ALL ORDER BY minute, region`,
      )
    ).getRowObjectsJS();
    const types = (
      await duck.connection.runAndReadAll(
        `SELECT event_type, count(*) AS n FROM ${source} WHERE line_index = 0 GROUP BY ALL`,
      )
    ).getRowObjectsJS();
    return {
      version: table.current.version,
      orders: cells.map((c) => ({
        minute: Number(c.minute),
        region: String(c.region),
        orders: Number(c.orders),
        revenue_minor: Number(c.revenue_minor),
        units: Number(c.units),
      })),
      eventTypes: Object.fromEntries(types.map((t) => [String(t.event_type), Number(t.n)])),
    };
  } finally {
    duck.close();
    table.close();
  }
}

async function speedOrders() {
  const response = await fetch(`${platform.url}/v1/metrics/orders?from=${FROM}&to=${TO}&groupBy=region`);
  expect(response.status).toBe(200);
  return answerOrderCells(((await response.json()) as { rows: Record<string, unknown>[] }).rows);
}

describe('hostile input over HTTP and Kafka', () => {
  it('gets an answer for every HTTP request, never a 5xx, and the expected verdict for every record', () => {
    expect(answers.length).toBeGreaterThan(10);
    expect(answers.filter((a) => a.status !== 202)).toEqual([]);
    expect(mismatches).toEqual([]);
  });

  it('quarantines every refused record once, with the rule that refused it, and nothing else', async () => {
    const records = await quarantined();
    const refused = [...expected.values()].flat();
    expect(refused.length).toBeGreaterThan(1_000);
    expect(records).toHaveLength(refused.length);
    const ids = records.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    const left = new Map([...expected].map(([key, sent]) => [key, [...sent]]));
    for (const record of records) {
      const sent = left.get(bytesKey(record.original))?.pop();
      expect(
        sent,
        `unexpected in quarantine: ${record.ruleIds} ${record.failures[0]?.message}`,
      ).toBeDefined();
      expect(record.ruleIds).toEqual([sent?.rule]);
      expect(record.failures[0]?.message.length).toBeGreaterThan(10);
    }
  });

  it('leaves the speed view, the lake and the ground truth equal', async () => {
    const report = truth.toJSON();
    const want = truthOrderCells(report, FROM, TO);
    expect(want.length).toBeGreaterThan(20);
    expect(await speedOrders()).toEqual(want);
    const lake = await lakeFigures();
    expect(lake.orders).toEqual(want);
    expect(lake.eventTypes).toEqual(report.eventTypes);
  });

  it('passes the record that stalled the lake within a minute, and quarantines it', async () => {
    const before = (await lakeFigures()).version;
    const [poison, ...after] = [
      ...generate({ seed: 23, count: 200, start: '2025-06-01T11:30:00Z', rate: 60 }),
    ]
      .filter((r) => r.kind === 'good')
      .map((r) => r.event as TidewaterEvent);
    const value = JSON.stringify(poison).replace(`"userId":"${poison?.userId}"`, '"userId":"\\ud800"');
    const kafka = createKafka(cfg, 'hostile');
    const producer = new BatchingProducer(kafka, { topic: cfg.eventsTopic });
    await producer.connect();
    await producer.push({ key: 'poison', value });
    for (const event of after) await producer.push({ key: event.userId, value: JSON.stringify(event) });
    await producer.disconnect();
    const started = Date.now();
    await waitForCatchUp(kafka, cfg.lakeGroup, cfg.eventsTopic, 60_000);
    expect(Date.now() - started).toBeLessThan(60_000);
    const lake = await lakeFigures();
    expect(lake.version).toBeGreaterThan(before);
    await waitForCatchUp(kafka, cfg.quarantineGroup, cfg.quarantineTopic, 30_000);
    let found: QuarantinedRecord | undefined;
    for (let i = 0; i < 40 && !found; i++) {
      found = (await quarantined()).find((r) => r.original?.toString() === value);
      if (!found) await sleep(250);
    }
    expect(found?.ruleIds).toEqual(['storable']);
    expect(found?.failures[0]?.message).toMatch(/lone UTF-16 surrogate \\ud800/);
  });
});
