// Late events reach the merged answer by themselves: events accepted for minutes the watermark
// already passed (5 minutes, 3 hours and 2 days below it) are answered from the speed view at once
// within its retention, beyond it once the correction scan's backfill of their day committed; two
// late batches for a day whose correction runs; and after every step the merged answer equals the
// ground truth minute by minute, and the accepted events of the whole range equal those the gate
// accepted, so no late event is counted twice (speed and batch) or missed. Real chDB, DuckDB, lake,
// Redis (queues and the answer cache); records go through the real gate.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readWatermark } from '../batch-layer/index.ts';
import { createClickHouse } from '../clickhouse/index.ts';
import { loadConfig } from '../config/index.ts';
import { CATALOG } from '../contracts/index.ts';
import { type GenerateOptions, GroundTruth, generate } from '../generator/index.ts';
import { EVENTS_SCHEMA, lakeTableDir, openTable } from '../lake/index.ts';
import { createOrchestrator, type Orchestrator, startWorkers, type Workers } from '../orchestration/index.ts';
import { buildServer } from '../serving-layer/index.ts';
import { applySpeedLayerDdl, readSpeedState, SpeedCommitPublisher } from '../speed-layer/index.ts';
import { ingestBoth, minuteOfTraffic } from './support/late.ts';
import { finished, queuePrefix, untilJob } from './support/orchestration.ts';
import { answerOrderCells, truthOrderCells } from './support/speed.ts';

const HOUR = 3_600_000;
const MINUTE = 60_000;
const dataDir = mkdtempSync(join(tmpdir(), 'tidewater-late-'));
const env = {
  ...process.env,
  TIDEWATER_DATA_DIR: dataDir,
  TIDEWATER_QUEUE_PREFIX: queuePrefix('late', loadConfig().redisUrl),
  TIDEWATER_ALLOWED_LATENESS_MINUTES: '0',
  TIDEWATER_CORRECTION_DELAY_SECONDS: '0',
  TIDEWATER_SPEED_RETENTION_HOURS: '24',
};
const cfg = loadConfig(env);
/** Everything accepted, and everything but the events beyond the speed view's retention. */
const truth = { all: new GroundTruth(), withinRetention: new GroundTruth() };
/** Events the gate accepted, the truth of accepted_events. */
const accepted = { all: 0, withinRetention: 0 };
const hourNow = Math.floor(Date.now() / HOUR) * HOUR;
const FROM = new Date(Math.floor((hourNow - 50 * HOUR) / 86_400_000) * 86_400_000).toISOString();
let TO = '';
let watermark = 0;
let client: ClickHouseClient;
let app: FastifyInstance;
let redis: Redis;
let orchestrator: Orchestrator;
const workers: Workers[] = [];
let seed = 100;

interface Pending {
  from: string;
  to: string;
  layer: 'speed' | 'batch';
  events?: number;
  lakeRows?: number;
}
interface Answer {
  rows: Record<string, string | number>[];
  meta: {
    served: { layer: string; from: string; to: string }[];
    corrections: { pending: Pending[] } | null;
  };
}

/** Records into both layers; `beyondRetention`: records the answer may lack until their correction. */
async function ingest(traffic: GenerateOptions, beyondRetention = false) {
  const records = [...generate({ seed: seed++, ...traffic })];
  for (const r of records) if (!beyondRetention) truth.withinRetention.add(r);
  const n = await ingestBoth(client, dataDir, records, truth.all, `late-test/${seed}`);
  // As the speed layer does after each insert: the commit notice that answer caches key on.
  const times = records.map((r) => Date.parse(r.event?.eventTime ?? '')).filter(Number.isFinite);
  const before = (await readSpeedState(redis, cfg.queuePrefix)).seq;
  new SpeedCommitPublisher(redis, cfg.queuePrefix, 0).notify(Math.min(...times), Math.max(...times));
  while ((await readSpeedState(redis, cfg.queuePrefix)).seq === before) await sleep(10);
  accepted.all += n;
  if (!beyondRetention) accepted.withinRetention += n;
  return n;
}

async function get(path: string): Promise<Answer> {
  const response = await app.inject({ method: 'GET', url: path });
  expect(response.statusCode, response.body).toBe(200);
  return response.json() as Answer;
}

/** Merged orders vs the truth minute by minute, and accepted events vs what the gate accepted. */
async function expectExact(part: keyof typeof truth = 'all'): Promise<Answer> {
  const orders = await get(`/v1/metrics/orders?from=${FROM}&to=${TO}&groupBy=region`);
  expect(answerOrderCells(orders.rows)).toEqual(truthOrderCells(truth[part].toJSON(), FROM, TO));
  // The served ranges tile the range: no minute from two layers.
  const served = orders.meta.served;
  expect(served[0]?.from).toBe(FROM);
  expect(served.at(-1)?.to).toBe(TO);
  for (let i = 1; i < served.length; i++) expect(served[i]?.from).toBe(served[i - 1]?.to);
  const all = await get(`/v1/metrics/accepted_events?from=${FROM}&to=${TO}&grain=all`);
  expect(all.rows).toEqual([{ events: accepted[part] }]);
  return orders;
}

const pendingOf = (a: Answer) => a.meta.corrections?.pending ?? [];
/**
 * The API keeps the correction scan's state for a second: an answer after a scan or a correction
 * waits that out (a day this small is corrected within it).
 */
const scanStateRefreshed = () => sleep(1_100);

async function scan(): Promise<{ enqueued: { day: string; job: string }[] }> {
  const { job } = await orchestrator.enqueue('correction', {});
  const done = await untilJob(orchestrator, job.id, finished, 60_000);
  expect(done.status, JSON.stringify(done)).toBe('completed');
  return done.result as { enqueued: { day: string; job: string }[] };
}

async function completed(id: string) {
  const done = await untilJob(orchestrator, id, finished, 180_000);
  expect(done.status, JSON.stringify(done)).toBe('completed');
}

beforeAll(async () => {
  client = createClickHouse({ dataDir });
  await applySpeedLayerDdl(client, CATALOG, { rawTtlDays: 10 * 365, dedupWindow: 1000 });
  redis = new Redis(cfg.redisUrl);
  app = await buildServer({
    clickhouse: client,
    dataDir,
    logger: false,
    redis: { client: redis, prefix: cfg.queuePrefix },
    speedRetentionHours: cfg.speedRetentionHours,
  });
  orchestrator = createOrchestrator(cfg);
  workers.push(await startWorkers(cfg, { clickhouse: client, queues: ['correction'] }));
}, 60_000);

afterAll(async () => {
  for (const w of workers) await w.close();
  await orchestrator?.close();
  await app?.close();
  redis?.disconnect();
  await client?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

it('late events 5 min, 3 h and 2 days below the watermark reach the merged answer, each exactly once', async () => {
  // Two days of history up to an hour ago, recomputed: the watermark passes all of it.
  await ingest({ start: FROM, count: 4_000, rate: 4_000 / ((hourNow - HOUR - Date.parse(FROM)) / 1000) });
  const { job } = await orchestrator.requestBackfill({
    from: FROM.slice(0, 10),
    to: new Date(hourNow + 86_400_000).toISOString().slice(0, 10),
  });
  workers.push(await startWorkers(cfg, { clickhouse: client, queues: ['backfill'] }));
  await completed(job.id);
  watermark = Date.parse(readWatermark(join(dataDir, 'batch-views'))?.watermark ?? '');
  expect(watermark).toBeGreaterThanOrEqual(hourNow);
  TO = new Date(watermark + HOUR).toISOString();
  const before = await expectExact();
  expect(pendingOf(before)).toEqual([]);
  expect(before.meta.served.map((s) => s.layer)).toEqual(['batch', 'speed']);

  // Late events arrive; the backfill worker is stopped so that corrections wait in the queue.
  await workers.pop()?.close();
  const fiveMin = watermark - 5 * MINUTE;
  const threeHours = watermark - 3 * HOUR;
  const twoDays = watermark - 48 * HOUR;
  const counts = [
    await ingest(minuteOfTraffic(fiveMin, 40)),
    await ingest(minuteOfTraffic(threeHours, 40)),
    await ingest(minuteOfTraffic(twoDays, 40), true),
  ];
  // Within the speed view's retention (24 h here) the late events show at once; the one 2 days
  // late is missing until its correction.
  const meanwhile = await expectExact('withinRetention');
  const hourOf = (t: number) => new Date(Math.floor(t / HOUR) * HOUR).toISOString();
  expect(pendingOf(meanwhile)).toEqual([
    { from: hourOf(threeHours), to: hourOf(threeHours + HOUR), layer: 'speed', events: counts[1] },
    { from: hourOf(fiveMin), to: hourOf(fiveMin + HOUR), layer: 'speed', events: counts[0] },
  ]);
  expect(meanwhile.meta.served.filter((s) => s.layer === 'speed').map((s) => s.from)).toContain(
    hourOf(threeHours),
  );

  // The scan records the hours and enqueues one backfill per affected day; until it ran, the
  // answer says which hour lacks rows and how many.
  const scanned = await scan();
  const days = [
    ...new Set([fiveMin, threeHours, twoDays].map((t) => new Date(t).toISOString().slice(0, 10))),
  ];
  expect(scanned.enqueued.map((e) => e.day).sort()).toEqual(days.sort());
  await scanStateRefreshed();
  const waiting = await expectExact('withinRetention');
  expect(pendingOf(waiting)).toContainEqual({
    from: hourOf(twoDays),
    to: hourOf(twoDays + HOUR),
    layer: 'batch',
    lakeRows: expect.any(Number),
  });
  workers.push(await startWorkers(cfg, { clickhouse: client, queues: ['backfill'] }));
  for (const e of scanned.enqueued) await completed(e.job);
  await scanStateRefreshed();
  const corrected = await expectExact();
  expect(pendingOf(corrected)).toEqual([]);
  expect(corrected.meta.served.map((s) => s.layer)).toEqual(['batch', 'speed']);
  expect((await scan()).enqueued).toEqual([]);
  // Compaction rewrites files of every hour but changes no row: nothing to correct.
  const table = await openTable(lakeTableDir(dataDir), EVENTS_SCHEMA);
  try {
    expect((await table.optimize()).filesRemoved).toBeGreaterThan(0);
  } finally {
    table.close();
  }
  expect((await scan()).enqueued).toEqual([]);
}, 600_000);

it('two late batches for one day while its correction runs: each visible at once, corrected in turn', async () => {
  // Two minutes of one UTC day, within the speed view's retention.
  const dayOf = (t: number) => new Date(t).toISOString().slice(0, 10);
  const shift = dayOf(watermark - 90 * MINUTE) === dayOf(watermark - 110 * MINUTE) ? 0 : 2 * HOUR;
  const first = watermark - 90 * MINUTE - shift;
  const second = watermark - 110 * MINUTE - shift;
  await ingest(minuteOfTraffic(first, 30));
  await expectExact();
  const { enqueued } = await scan();
  expect(enqueued).toHaveLength(1);
  const [correction] = enqueued;
  const running = await untilJob(
    orchestrator,
    correction?.job ?? '',
    (j) => j.status === 'active' || finished(j),
  );
  expect(running.status, 'the correction was running when the second batch came').toBe('active');
  await ingest(minuteOfTraffic(second, 30));
  await expectExact();
  await completed(correction?.job ?? '');
  // The first correction read a lake version without the second batch: its hour is still answered
  // from the speed view, and the next scan corrects it.
  await scanStateRefreshed();
  const between = await expectExact();
  expect(pendingOf(between).filter((p) => p.layer !== 'speed')).toEqual([]);
  const again = await scan();
  for (const e of again.enqueued) await completed(e.job);
  await scanStateRefreshed();
  const settled = await expectExact();
  expect(pendingOf(settled)).toEqual([]);
}, 600_000);
