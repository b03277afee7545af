// HTTP ingest, API keys, live push and the query cache against the real Kafka, Redis and embedded
// ClickHouse, with the speed layer running in this process: events posted over HTTP must reach the
// rollups exactly, every role must be refused where it does not belong, a bad body must leave
// nothing in Kafka, a live client must see an ingested event, and a backfill must bypass the cache.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfill, batchViewsDir } from '../batch-layer/index.ts';
import { createClickHouse } from '../clickhouse/index.ts';
import { indexDimensions, loadPlatformDimensions, type TidewaterEvent } from '../contracts/index.ts';
import { type GeneratedRecord, GroundTruth, generate } from '../generator/index.ts';
import type { Kafka } from '../kafka/index.ts';
import { createKafka } from '../kafka/index.ts';
import { EVENTS_SCHEMA, lakeTableDir, openTable, stageAccepted } from '../lake/index.ts';
import { createGate, type RawMessage } from '../quality/index.ts';
import { buildServer, KeyStore, type Role } from '../serving-layer/index.ts';
import { SpeedCommitPublisher, type SpeedLayer, startSpeedLayer } from '../speed-layer/index.ts';
import { type Isolated, isolation } from './support/isolation.ts';
import { expectedOrders, topicRecords, waitForCatchUp } from './support/speed.ts';

const isolated = isolation('ingest-test');
const MAX_BODY = 2 * 1024 * 1024;

let env: Isolated;
let kafka: Kafka;
let redis: Redis;
let clickhouse: ClickHouseClient;
let speed: SpeedLayer;
let app: FastifyInstance;
let base: string;
let prefix: string;
const keys: Record<Role, string> = { reader: '', ingest: '', engineer: '', admin: '' };

const ndjson = (records: readonly { value: Buffer }[]) =>
  Buffer.concat(records.flatMap((r) => [r.value, Buffer.from('\n')]));

function post(payload: Buffer | string | object, contentType = 'application/x-ndjson', key = keys.ingest) {
  return app.inject({
    method: 'POST',
    url: '/v1/events',
    headers: { 'content-type': contentType, authorization: `Bearer ${key}` },
    payload: payload as string,
  });
}

const get = (url: string, key = keys.reader) =>
  app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key}` } });

const goodTraffic = (seed: number, start: number | string, count: number): GeneratedRecord[] =>
  [...generate({ seed, start, count, rate: 50 })].filter((r) => r.kind === 'good');

async function caughtUp(): Promise<void> {
  await waitForCatchUp(kafka, env.groupId, env.cfg.eventsTopic, 60_000);
}

beforeAll(async () => {
  env = await isolated('ingest');
  const { cfg } = env;
  kafka = createKafka(cfg, 'test');
  redis = new Redis(cfg.redisUrl);
  prefix = `ingest-test-${randomUUID().slice(0, 8)}`;
  clickhouse = createClickHouse({ dataDir: cfg.dataDir });
  speed = await startSpeedLayer(cfg, {
    groupId: env.groupId,
    clickhouse,
    commits: new SpeedCommitPublisher(redis, prefix, cfg.allowedLatenessMinutes * 60_000),
  });
  const store = new KeyStore(redis, prefix);
  for (const role of Object.keys(keys) as Role[])
    keys[role] = (await store.create(role, `test ${role}`)).secret;
  app = await buildServer({
    clickhouse,
    dataDir: cfg.dataDir,
    logger: false,
    redis: { client: redis, prefix },
    auth: { keys: store },
    liveMaxRate: 10,
    ingest: {
      kafka,
      eventsTopic: cfg.eventsTopic,
      quarantineTopic: cfg.quarantineTopic,
      dimensions: { current: await loadPlatformDimensions(cfg.dataDir) },
      allowedLatenessMinutes: cfg.allowedLatenessMinutes,
      maxBodyBytes: MAX_BODY,
      timeoutMs: 10_000,
    },
  });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await app?.close();
  await speed?.stop();
  await clickhouse?.close();
  const leftovers = await redis.keys(`${prefix}:*`);
  if (leftovers.length > 0) await redis.del(...leftovers);
  redis?.disconnect();
});

describe('API keys and roles', () => {
  const ROUTES: [method: 'GET' | 'POST' | 'DELETE', url: string, allowed: Role[]][] = [
    ['GET', '/v1/metrics', ['reader', 'engineer', 'admin']],
    ['GET', '/v1/metrics/orders', ['reader', 'engineer', 'admin']],
    ['GET', '/v1/dimensions/products', ['reader', 'engineer', 'admin']],
    ['POST', '/v1/sql', ['reader', 'engineer', 'admin']],
    ['POST', '/v1/events', ['ingest', 'admin']],
    ['GET', '/v1/jobs', ['engineer', 'admin']],
    ['POST', '/v1/backfills', ['engineer', 'admin']],
    ['GET', '/v1/retired-tables', ['admin']],
    // A name that is no retired table: the admin's call drops nothing (404).
    ['DELETE', '/v1/retired-tables/orders_v0', ['admin']],
  ];

  it.each(ROUTES)('%s %s: 401 without a valid key, 403 for other roles', async (method, url, allowed) => {
    const call = (authorization?: string) =>
      app.inject({
        method,
        url,
        headers: authorization ? { authorization } : {},
        payload: method === 'POST' ? {} : undefined,
      });
    for (const authorization of [undefined, 'Bearer tw_nope_nope', 'Basic abc']) {
      const response = await call(authorization);
      expect(response.statusCode, `${authorization}`).toBe(401);
      expect(response.json().error.code).toBe('unauthorized');
    }
    for (const role of Object.keys(keys) as Role[]) {
      const response = await call(`Bearer ${keys[role]}`);
      if (allowed.includes(role))
        expect([401, 403], `${role}: ${response.body}`).not.toContain(response.statusCode);
      else {
        expect(response.statusCode, role).toBe(403);
        expect(response.json().error).toMatchObject({
          code: 'forbidden',
          message: expect.stringContaining(role),
        });
      }
    }
  });

  it('leaves health, /metrics and /docs open, and takes ?key= on the live stream only', async () => {
    for (const url of ['/healthz', '/metrics', '/docs/json']) {
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
    }
    const byQuery = await app.inject({ method: 'GET', url: `/v1/metrics?key=${keys.reader}` });
    expect(byQuery.statusCode).toBe(401);
    const live = await app.inject({ method: 'GET', url: `/v1/live?metric=orders&key=${keys.ingest}` });
    expect(live.statusCode).toBe(403);
    const unknown = await app.inject({ method: 'GET', url: `/v1/live?metric=nope&key=${keys.reader}` });
    expect(unknown.statusCode).toBe(404);
  });
});

describe('rate limits', () => {
  it('counts requests per key in Redis and answers 429 JSON past the limit', async () => {
    const store = new KeyStore(redis, prefix);
    const limited = await buildServer({
      clickhouse,
      dataDir: env.cfg.dataDir,
      logger: false,
      redis: { client: redis, prefix },
      auth: { keys: store, rateLimitPerMinute: 3 },
    });
    try {
      const [a, b] = [(await store.create('reader')).secret, (await store.create('reader')).secret];
      const call = (key: string) =>
        limited.inject({ method: 'GET', url: '/v1/metrics', headers: { authorization: `Bearer ${key}` } });
      for (let i = 0; i < 3; i++) expect((await call(a)).statusCode).toBe(200);
      const refused = await call(a);
      expect(refused.statusCode).toBe(429);
      expect(refused.json().error.code).toBe('rate_limited');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect((await call(b)).statusCode).toBe(200);
      expect((await limited.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('ingest', () => {
  it('gates each record, produces the accepted ones and reaches the rollups exactly', async () => {
    const truth = new GroundTruth();
    const records = goodTraffic(71, Date.now() - 120_000, 3_000);
    for (const r of records) truth.add(r);
    const [first] = records as [GeneratedRecord];
    const bad = [
      Buffer.from('{"eventId": '),
      Buffer.from(
        JSON.stringify({ ...(first.event as TidewaterEvent), eventId: randomUUID(), eventType: 'nope' }),
      ),
    ];
    const body = Buffer.concat([
      ndjson(records.slice(0, 1000)),
      bad[0] as Buffer,
      Buffer.from('\n\n'),
      ndjson(records.slice(1000)),
      bad[1] as Buffer,
      Buffer.from('\n'),
      first.value,
    ]);
    const quarantinedBefore = await topicRecords(kafka, env.cfg.quarantineTopic);
    const response = await post(body);
    expect(response.statusCode, response.body).toBe(202);
    const answer = response.json();
    expect(answer).toMatchObject({ received: 3_003, accepted: 3_000, rejected: 2, duplicates: 1 });
    expect(answer.rejections.map((r: { index: number; rules: string[] }) => [r.index, r.rules])).toEqual([
      [1000, ['decode']],
      [3001, ['contract']],
    ]);
    expect(answer.duplicateRecords).toEqual([{ index: 3002, eventId: first.event?.eventId }]);
    expect(await topicRecords(kafka, env.cfg.quarantineTopic)).toBe(quarantinedBefore + 2);

    await caughtUp();
    const minutes = expectedOrders(truth.toJSON());
    const from = `${minutes[0]?.minute.replace(' ', 'T')}Z`;
    const to = new Date(Date.parse(`${minutes.at(-1)?.minute.replace(' ', 'T')}Z`) + 60_000).toISOString();
    const served = await get(`/v1/metrics/orders?from=${from}&to=${to}&groupBy=region`);
    expect(served.statusCode, served.body).toBe(200);
    const rows = served.json().rows as Record<string, string | number>[];
    expect(rows.map((r) => [r.time, r.region, r.orders, r.revenue_minor])).toEqual(
      minutes.map((c) => [
        `${c.minute.replace(' ', 'T').slice(0, 19)}Z`,
        c.region,
        Number(c.orders),
        Number(c.revenue_minor),
      ]),
    );
    expect(minutes.length).toBeGreaterThan(3);
  });

  it('takes one JSON event or a JSON array too', async () => {
    const [one, two, three] = goodTraffic(72, Date.now(), 3);
    const single = await post(JSON.parse(String(one?.value)), 'application/json');
    expect(single.statusCode, single.body).toBe(202);
    expect(single.json()).toMatchObject({ received: 1, accepted: 1 });
    const array = await post(
      [two, three].map((r) => JSON.parse(String(r?.value))),
      'application/json',
    );
    expect(array.json()).toMatchObject({ received: 2, accepted: 2 });
  });

  it('refuses an oversized, malformed or empty body with a clear 4xx and produces nothing', async () => {
    const before = [
      await topicRecords(kafka, env.cfg.eventsTopic),
      await topicRecords(kafka, env.cfg.quarantineTopic),
    ];
    const block = ndjson(goodTraffic(73, Date.now(), 1_000));
    const big = Buffer.concat(Array.from({ length: Math.ceil(MAX_BODY / block.length) + 1 }, () => block));
    expect(big.length).toBeGreaterThan(MAX_BODY);
    const cases: [Buffer | string, string, number, string][] = [
      [big, 'application/x-ndjson', 413, 'payload_too_large'],
      [big, 'application/json', 413, 'payload_too_large'],
      ['[{"eventId": "x"}, ', 'application/json', 400, 'malformed_json'],
      ['42', 'application/json', 400, 'invalid_request'],
      ['\n \n', 'application/x-ndjson', 400, 'invalid_request'],
      ['a,b', 'text/csv', 415, 'unsupported_media_type'],
      [JSON.stringify({ eventId: 'x' }), 'text/plain', 415, 'unsupported_media_type'],
      ['[{"eventId": "x"}, {"eventId": tru}]', 'application/json', 400, 'malformed_json'],
    ];
    for (const [payload, type, status, code] of cases) {
      const response = await post(payload, type);
      expect(response.statusCode, `${type} ${String(payload).slice(0, 20)}: ${response.body}`).toBe(status);
      expect(response.json().error.code).toBe(code);
      expect(response.json().error.message.length).toBeGreaterThan(10);
    }
    expect([
      await topicRecords(kafka, env.cfg.eventsTopic),
      await topicRecords(kafka, env.cfg.quarantineTopic),
    ]).toEqual(before);
  });

  it('judges each record as its bytes, the same whether it came in a JSON array or as an NDJSON line', async () => {
    const [good, other] = goodTraffic(78, Date.now(), 2) as [GeneratedRecord, GeneratedRecord];
    const text = good.value.toString();
    const withField = (field: string) => `${text.slice(0, -1)},${field}}`;
    const notUtf8 = Buffer.from(withField('"note":"x"'));
    notUtf8[notUtf8.length - 3] = 0xff;
    const records = [
      other.value,
      Buffer.from(withField('"__proto__":{"admin":true}')),
      Buffer.from(withField('"nested":{"constructor":{"prototype":{}}}')),
      Buffer.from(withField(`"deep":${'['.repeat(5_000)}${']'.repeat(5_000)}`)),
      Buffer.from(text.replace(`"userId":"${good.event?.userId}"`, '"userId":"\\ud800"')),
      notUtf8,
      Buffer.from('42'),
    ];
    const asNdjson = await post(Buffer.concat(records.flatMap((r) => [r, Buffer.from('\n')])));
    const asJson = await post(
      Buffer.concat([
        Buffer.from('[\n'),
        ...records.flatMap((r, i) => (i ? [Buffer.from(' ,'), r] : [r])),
        Buffer.from(']'),
      ]),
      'application/json; charset=utf-8',
    );
    for (const response of [asNdjson, asJson]) expect(response.statusCode, response.body).toBe(202);
    const rules = (answer: { rejections: { index: number; rules: string[] }[] }) =>
      answer.rejections.map((r) => [r.index, r.rules]);
    expect(rules(asNdjson.json())).toEqual([
      [1, ['decode']],
      [2, ['decode']],
      [3, ['decode']],
      [4, ['storable']],
      [5, ['decode']],
      [6, ['contract']],
    ]);
    expect(asJson.json().rejections).toEqual(asNdjson.json().rejections);
    expect(asJson.json()).toMatchObject({ received: 7, accepted: 1, rejected: 6 });
    expect(asNdjson.json().rejections[4].messages[0]).toMatch(/not valid UTF-8 \(byte \d+\)/);
  });

  it('takes a body nested 10,000 levels deep without recursing: one record, refused with a reason', async () => {
    const deep = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    const object = await post(deep, 'application/json');
    expect(object.statusCode, object.body).toBe(202);
    expect(object.json().rejections[0].messages[0]).toMatch(/exceeds MAX_EVENT_BYTES/);
    const array = await post(`[${'['.repeat(3_000)}${']'.repeat(3_000)}]`, 'application/json');
    expect(array.statusCode, array.body).toBe(202);
    expect(array.json().rejections[0].messages[0]).toMatch(/nested deeper than 32 levels/);
  });

  it('answers 503 with Retry-After, acknowledging nothing, when Kafka cannot take the records', async () => {
    const down = await buildServer({
      clickhouse,
      dataDir: env.cfg.dataDir,
      logger: false,
      ingest: {
        kafka: createKafka({ ...env.cfg, kafkaBrokers: ['127.0.0.1:1'], logLevel: 'silent' }, 'test-down'),
        eventsTopic: env.cfg.eventsTopic,
        quarantineTopic: env.cfg.quarantineTopic,
        dimensions: { current: await loadPlatformDimensions(env.cfg.dataDir) },
        allowedLatenessMinutes: 15,
        maxBodyBytes: MAX_BODY,
        timeoutMs: 1_500,
      },
    });
    try {
      const response = await down.inject({
        method: 'POST',
        url: '/v1/events',
        headers: { 'content-type': 'application/x-ndjson' },
        payload: ndjson(goodTraffic(74, Date.now(), 5)),
      });
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('5');
      expect(response.json().error.code).toBe('kafka_unavailable');
    } finally {
      await down.close();
    }
  });
});

/** Server-Sent Events of one response, read on demand. */
function sseReader(body: ReadableStream<Uint8Array>) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  /** Reads events until `until` returns true for one; returns those read. */
  return async (until: (event: string, data: unknown) => boolean, timeoutMs: number) => {
    const seen: { event: string; data: unknown }[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event === undefined || data === undefined) continue;
        seen.push({ event, data: JSON.parse(data) });
        if (until(event, JSON.parse(data))) return seen;
      }
      const chunk = await Promise.race([
        reader.read(),
        sleep(Math.max(0, deadline - Date.now())).then(() => 'timeout' as const),
      ]);
      if (chunk === 'timeout' || chunk.done)
        throw new Error(
          `no matching event within ${timeoutMs} ms: ${JSON.stringify(seen.map((e) => e.event))}`,
        );
      buffer += chunk.value;
    }
  };
}

describe('live push', () => {
  it('sends a snapshot, then the full new value of the minute an ingested event changed, on every API instance', async () => {
    const [order] = [...generate({ seed: 75, start: Date.now(), count: 400, rate: 1000 })].filter(
      (r) => r.kind === 'good' && r.event?.eventType === 'order.created',
    ) as [GeneratedRecord];
    // A second instance sharing only Redis (and, embedded, the ClickHouse of this process).
    const other = await buildServer({
      clickhouse,
      dataDir: env.cfg.dataDir,
      logger: false,
      redis: { client: redis, prefix },
    });
    const otherBase = await other.listen({ port: 0, host: '127.0.0.1' });
    const controller = new AbortController();
    try {
      const streams = [];
      for (const url of [
        `${base}/v1/live?metric=orders&groupBy=region&key=${keys.reader}`,
        `${otherBase}/v1/live?metric=orders&groupBy=region`,
      ]) {
        const response = await fetch(url, { signal: controller.signal });
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toContain('text/event-stream');
        streams.push(sseReader(response.body as ReadableStream<Uint8Array>));
      }
      const minute = `${new Date(Math.floor(Date.parse(order.event?.eventTime as string) / 60_000) * 60_000).toISOString().slice(0, 19)}Z`;
      const snapshots: { rows: Record<string, unknown>[] }[] = [];
      for (const read of streams) {
        const [snapshot] = await read((e) => e === 'snapshot', 10_000);
        expect(snapshot?.data).toMatchObject({
          metric: 'orders',
          grain: 'minute',
          meta: { served: expect.any(Array) },
        });
        snapshots.push(snapshot?.data as { rows: Record<string, unknown>[] });
      }
      const before = (r: unknown) =>
        (snapshots[0]?.rows ?? []).find((row) => row.time === minute && row.region === r);

      expect((await post(order.value)).json().accepted).toBe(1);
      const deltas = [];
      for (const read of streams) {
        const events = await read(
          (e: string, d: unknown) =>
            e === 'delta' && (d as { rows: { time: string }[] }).rows.some((r) => r.time === minute),
          10_000,
        );
        const delta = events.at(-1)?.data as { rows: Record<string, string | number>[]; meta: object };
        expect(delta.meta).toHaveProperty('boundary');
        deltas.push(delta.rows.find((r) => r.time === minute));
      }
      // The full value of the minute, not an increment, and the same on both instances.
      expect(Number(deltas[0]?.orders)).toBe(Number(before(deltas[0]?.region)?.orders ?? 0) + 1);
      expect(deltas[1]).toEqual(deltas[0]);
    } finally {
      controller.abort();
      await other.close();
    }
  });
});

describe('query cache', () => {
  const DAY = '2025-05-01';
  const url = `/v1/metrics/orders?from=${DAY}T00:00:00Z&to=2025-05-02T00:00:00Z&groupBy=region`;
  const ask = async () => {
    const response = await get(url);
    expect(response.statusCode, response.body).toBe(200);
    return response.json() as {
      rows: { orders: number }[];
      meta: { cache: { hit: boolean; basis: string }; served: { layer: string }[] };
    };
  };
  const total = (a: { rows: { orders: number }[] }) => a.rows.reduce((n, r) => n + r.orders, 0);

  it('serves settled history from the cache until a commit touches it or a backfill moves the boundary', async () => {
    const past = goodTraffic(76, `${DAY}T10:00:00Z`, 1_500);
    const now = goodTraffic(77, Date.now(), 10);
    expect((await post(ndjson([...past.slice(0, 1_400), ...now]))).json().accepted).toBe(1_410);
    await caughtUp();
    const first = await ask();
    expect(first.meta.cache).toEqual({ hit: false, basis: 'settled' });
    const second = await ask();
    expect(second.meta.cache).toEqual({ hit: true, basis: 'settled' });
    expect(second.rows).toEqual(first.rows);

    // A late event for that day: the cached answer must not be served any more.
    const late = past.slice(1_400).filter((r) => r.event?.eventType === 'order.created');
    expect(late.length).toBeGreaterThan(0);
    expect((await post(ndjson(late))).json().accepted).toBe(late.length);
    await caughtUp();
    await sleep(200); // the commit notice is published after the insert, without waiting
    const third = await ask();
    expect(third.meta.cache.hit).toBe(false);
    expect(total(third)).toBe(total(first) + late.length);

    // The lake gets the day and a backfill replaces the speed view's answer with the batch view's.
    const gate = createGate({
      dimensions: await loadPlatformDimensions(env.cfg.dataDir),
      allowedLatenessMinutes: 0,
    });
    const accepted = gate.run(
      [...past.slice(0, 1_400), ...late].map(
        (r, i): RawMessage => ({
          topic: 'lake',
          partition: 0,
          offset: String(i),
          key: Buffer.from(r.key),
          value: r.value,
          timestamp: Date.now(),
        }),
      ),
    ).accepted;
    const table = await openTable(lakeTableDir(env.cfg.dataDir), EVENTS_SCHEMA);
    await table.appendBatch(
      stageAccepted(accepted, indexDimensions(await loadPlatformDimensions(env.cfg.dataDir))),
    );
    table.close();
    await backfill({
      client: clickhouse,
      lakeDir: lakeTableDir(env.cfg.dataDir),
      viewsDir: batchViewsDir(env.cfg.dataDir),
      from: DAY,
      to: '2025-05-02',
      allowedLatenessMs: 0,
    });
    const fourth = await ask();
    expect(fourth.meta.cache).toEqual({ hit: false, basis: 'batch' });
    expect(fourth.meta.served.map((s) => s.layer)).toEqual(['batch']);
    expect(fourth.rows).toEqual(third.rows);
    expect((await ask()).meta.cache).toEqual({ hit: true, basis: 'batch' });
  });
});
