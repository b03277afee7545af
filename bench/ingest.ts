// HTTP ingest: (a) events/s accepted over HTTP in NDJSON batches, gate on, Kafka acknowledged, with
// API keys and the per-key rate limit on, the load generated and posted by a second process;
// (b) event-to-live-client latency: with the speed layer running in this process and background
// traffic from the load process, one order at a time is posted and timed until a live (SSE)
// client holds the minute's new value.
// Last line: {"bench":"ingest","events_per_s":N,"live_p99_ms":N,...targets}
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createClickHouse } from '../clickhouse/index.ts';
import { loadConfig } from '../config/index.ts';
import { loadPlatformDimensions } from '../contracts/index.ts';
import { generate } from '../generator/index.ts';
import { createKafka, ensureTopics, platformTopics } from '../kafka/index.ts';
import { fetchPositions, lagOf } from '../pipeline/index.ts';
import { buildServer, KeyStore } from '../serving-layer/index.ts';
import {
  parseCommitNotice,
  SpeedCommitPublisher,
  speedCommitsChannel,
  startSpeedLayer,
} from '../speed-layer/index.ts';
import {
  benchArgs,
  median,
  PLATFORM_NODE_FLAGS,
  percentile,
  referenceCalibration,
  report,
  say,
} from './support.ts';

const args = benchArgs(
  'npm run bench:ingest -- [events=300000] [batch=2000] [probes=60] [background-rate=5000]',
);
const EVENTS = args.number(0, 'events', 300_000);
const BATCH = args.number(1, 'batch', 2_000);
const PROBES = args.number(2, 'probes', 60);
const BACKGROUND_RATE = args.number(3, 'background-rate', 5_000, { allowZero: true });
args.done();
const CONCURRENCY = 4;
const TARGET_EVENTS_PER_S = 50_000;
const TARGET_LIVE_P99_MS = 1_000;
const PROBE_TIMEOUT_MS = 10_000;

const id = randomUUID().slice(0, 8);
const dataDir = mkdtempSync(join(tmpdir(), 'tidewater-bench-ingest-'));
const cfg = loadConfig({
  ...process.env,
  TIDEWATER_EVENTS_TOPIC: `bench-ingest-${id}`,
  TIDEWATER_QUARANTINE_TOPIC: `bench-ingest-${id}.quarantine`,
  TIDEWATER_DATA_DIR: dataDir,
  LOG_LEVEL: 'error',
});
const prefix = `bench-ingest-${id}`;
const groupId = `bench-ingest-${id}`;
const kafka = createKafka(cfg, 'bench');
const admin = kafka.admin();
await admin.connect();
await ensureTopics(admin, platformTopics(cfg));
const redis = new Redis(cfg.redisUrl);
const clickhouse = createClickHouse({ dataDir });
const keys = new KeyStore(redis, prefix);
const ingestKey = (await keys.create('ingest', 'bench')).secret;
const readerKey = (await keys.create('reader', 'bench')).secret;
const app = await buildServer({
  clickhouse,
  dataDir,
  logger: false,
  redis: { client: redis, prefix },
  auth: { keys, rateLimitPerMinute: cfg.rateLimitPerMinute },
  liveMaxRate: cfg.liveMaxRate,
  ingest: {
    kafka,
    eventsTopic: cfg.eventsTopic,
    quarantineTopic: cfg.quarantineTopic,
    dimensions: { current: await loadPlatformDimensions(dataDir) },
    allowedLatenessMinutes: cfg.allowedLatenessMinutes,
    maxBodyBytes: cfg.ingestMaxBytes,
    timeoutMs: cfg.ingestTimeoutMs,
  },
});
const url = await app.listen({ port: 0, host: '127.0.0.1' });

// --- the load process ---
const load = fork(new URL('./ingest-load.ts', import.meta.url), [], {
  execArgv: ['--import', 'tsx', ...PLATFORM_NODE_FLAGS],
});
const replies: ((m: Record<string, unknown>) => void)[] = [];
load.on('message', (m: Record<string, unknown>) => {
  if (m.error) throw new Error(`load process: ${m.error}`);
  replies.shift()?.(m);
});
const ask = <T>(command: object) =>
  new Promise<T>((resolve) => {
    replies.push(resolve as (m: Record<string, unknown>) => void);
    load.send(command);
  });
interface Done {
  done: { accepted: number; failed: number; requests: number; elapsedMs: number };
}

// --- (a) throughput ---
say(`generating ${EVENTS.toLocaleString('en')} events in NDJSON batches of ${BATCH} in the load process...`);
await ask({ cmd: 'prepare', events: EVENTS, batch: BATCH, seed: 7 });
say(`posting with ${CONCURRENCY} requests in flight (load ${loadavg()[0]?.toFixed(2)})...`);
const { done } = await ask<Done>({ cmd: 'go', url, key: ingestKey, concurrency: CONCURRENCY });
const eventsPerS = Math.round((done.accepted * 1000) / done.elapsedMs);
say(
  `accepted ${done.accepted.toLocaleString('en')} events in ${(done.elapsedMs / 1000).toFixed(1)} s over ${done.requests} requests (${done.failed} failed): ${eventsPerS.toLocaleString('en')} events/s`,
);

// --- (b) event to live client ---
const speed = await startSpeedLayer(cfg, {
  groupId,
  clickhouse,
  commits: new SpeedCommitPublisher(redis, prefix, cfg.allowedLatenessMinutes * 60_000),
});
say('speed layer catching up with the ingested events...');
for (;;) {
  const lag = (await fetchPositions(admin, groupId, cfg.eventsTopic)).reduce((s, p) => s + lagOf(p), 0);
  if (lag === 0) break;
  await sleep(250);
}

/** The live client's view: orders per minute, as the stream last said. */
const orders = new Map<string, number>();
const waiters = new Set<() => void>();
const controller = new AbortController();
const stream = await fetch(
  `${url}/v1/live?metric=orders&from=${new Date(Date.now() - 30 * 60_000).toISOString()}&key=${readerKey}`,
  { signal: controller.signal },
);
const reading = (async () => {
  const reader = (stream.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) return;
    buffer += chunk.value;
    let end = buffer.indexOf('\n\n');
    while (end !== -1) {
      const data = /^data: (.*)$/m.exec(buffer.slice(0, end))?.[1];
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf('\n\n');
      if (data === undefined) continue;
      const rows = (JSON.parse(data) as { rows?: { time: string; orders: number }[] }).rows ?? [];
      for (const row of rows) orders.set(row.time, row.orders);
      for (const wake of waiters) wake();
    }
  }
})().catch(() => undefined);
await sleep(1_500);

const template = [...generate({ seed: 9, count: 200, start: Date.now() })].find(
  (r) => r.kind === 'good' && r.event?.eventType === 'order.created',
)?.event as { payload: object };
const minuteOf = (ms: number) => `${new Date(Math.floor(ms / 60_000) * 60_000).toISOString().slice(0, 19)}Z`;

say(
  `background: non-order traffic at ${BACKGROUND_RATE.toLocaleString('en')} events/s from the load process`,
);
await ask({
  cmd: 'prepare',
  events: BACKGROUND_RATE * Math.max(60, PROBES),
  batch: 500,
  seed: 8,
  nonOrders: true,
});
const background = ask<Done>({
  cmd: 'go',
  url,
  key: ingestKey,
  concurrency: 2,
  ratePerSecond: BACKGROUND_RATE,
});
await sleep(1_000);

// When each commit notice arrived, by the newest event time it covers: splits a probe's latency
// into Kafka + speed layer (post to notice) and the live path (notice to client).
const notices: { at: number; newest: number }[] = [];
const listener = redis.duplicate();
await listener.subscribe(speedCommitsChannel(prefix));
listener.on('message', (_channel: string, message: string) => {
  const notice = parseCommitNotice(message);
  if (notice) notices.push({ at: Date.now(), newest: notice.newest });
});
const acks: number[] = [];
const commits: number[] = [];

say(`${PROBES} probes: one order posted, timed until the live client holds its minute's new value...`);
const latencies: number[] = [];
const expected = new Map<string, number>();
for (let i = 0; i < PROBES; i++) {
  const now = Date.now();
  const minute = minuteOf(now);
  const want = (expected.get(minute) ?? orders.get(minute) ?? 0) + 1;
  expected.set(minute, want);
  const event = {
    ...template,
    eventId: randomUUID(),
    eventTime: new Date(now).toISOString(),
    payload: { ...template.payload, orderId: randomUUID() },
  };
  const seen = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`probe ${i}: no live update within ${PROBE_TIMEOUT_MS} ms`)),
      PROBE_TIMEOUT_MS,
    );
    const check = () => {
      if ((orders.get(minute) ?? 0) >= want) {
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      }
    };
    waiters.add(check);
  });
  const response = await fetch(`${url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${ingestKey}` },
    body: `${JSON.stringify(event)}\n`,
  });
  if (response.status !== 202) throw new Error(`probe ${i}: ${response.status} ${await response.text()}`);
  acks.push(Date.now() - now);
  await seen;
  latencies.push(Date.now() - now);
  const notice = notices.find((n) => n.newest >= now);
  if (notice) commits.push(notice.at - now);
  await sleep(50 + Math.random() * 200);
}
load.send({ cmd: 'stop' });
const bg = (await background).done;
say(
  `background posted ${bg.accepted.toLocaleString('en')} events (${Math.round((bg.accepted * 1000) / bg.elapsedMs).toLocaleString('en')}/s)`,
);
const p50 = median(latencies);
const p99 = percentile(latencies, 99);
listener.disconnect();
say(
  `after the post, median / p99: ingest acknowledged ${median(acks)} / ${percentile(acks, 99)} ms, speed commit noticed ${median(commits)} / ${percentile(commits, 99)} ms, live client ${p50} / ${percentile(latencies, 99)} ms`,
);
say(
  `event -> live client: p50 ${p50} ms, p99 ${p99} ms, max ${Math.max(...latencies)} ms (load ${loadavg()[0]?.toFixed(2)})`,
);

controller.abort();
await reading;
load.kill();
await app.close();
await speed.stop();
await clickhouse.close();
await admin.deleteTopics({ topics: [cfg.eventsTopic, cfg.quarantineTopic] }).catch(() => undefined);
await admin.disconnect();
const leftovers = await redis.keys(`${prefix}:*`);
if (leftovers.length > 0) await redis.del(...leftovers);
redis.disconnect();
rmSync(dataDir, { recursive: true, force: true });

report({
  bench: 'ingest',
  events_per_s: eventsPerS,
  live_p99_ms: p99,
  live_p50_ms: p50,
  target_events_per_s: TARGET_EVENTS_PER_S,
  target_live_p99_ms: TARGET_LIVE_P99_MS,
  calibration: referenceCalibration(),
});
