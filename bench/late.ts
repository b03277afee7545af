// Late events: how long an accepted late event is missing from the merged answer. The all-in-one
// platform (speed layer, lake writer, workers, scheduler with its every-minute correction scan, API)
// runs in this process. Two days of history go through Kafka into both layers and are recomputed,
// so the watermark passes them; then a second process offers 20,000 events/s for 5 minutes, 1% of
// them stamped 1 to 48 hours back. Every 500 ms the bench reads the accepted events per hour of the
// late span twice: from the speed view (what the platform has accepted: the speed layer committed
// it) and right after from the merged API (what an analyst sees). The k-th late event of an hour
// counts as accepted at the first reading where the speed view holds k more events than the
// history, and as visible at the first reading whose merged answer does, each at the moment the
// answer was asked for; hidden_event_seconds is the difference.
// Late events the speed view does not hold by the end (the platform fell behind the offered rate)
// are counted apart, not as hidden. produce_to_visible_seconds_p99 adds the pipeline's own delay
// (from Kafka's acknowledgement).
// correction_jobs counts the backfills the correction scans enqueued during the run.
// Last line: {"bench":"late","hidden_event_seconds_p99":N,"correction_jobs":N,"target":5,...}
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { readWatermark } from '../batch-layer/index.ts';
import { startPlatform } from '../cli/platform.ts';
import { createClickHouse, queryMetric } from '../clickhouse/index.ts';
import { loadConfig } from '../config/index.ts';
import { getMetric, loadPlatformDimensions } from '../contracts/index.ts';
import { generate } from '../generator/index.ts';
import { BatchingProducer, createKafka } from '../kafka/index.ts';
import { createOrchestrator } from '../orchestration/index.ts';
import { benchArgs, PLATFORM_NODE_FLAGS, percentile, referenceCalibration, report, say } from './support.ts';

const args = benchArgs('npm run bench:late -- [seconds=300] [events per second=20000]');
const SECONDS = args.number(0, 'seconds', 300);
const RATE = args.number(1, 'events per second', 20_000);
args.done();
const LATE_FRACTION = 0.01;
const HISTORY_EVENTS = 200_000;
const PROBE_MS = 500;
const DRAIN_MS = 120_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

const id = randomUUID().slice(0, 8);
const dataDir = mkdtempSync(join(tmpdir(), 'tidewater-late-'));
const env = {
  ...process.env,
  TIDEWATER_DATA_DIR: dataDir,
  TIDEWATER_EVENTS_TOPIC: `late-${id}`,
  TIDEWATER_QUARANTINE_TOPIC: `late-${id}.quarantine`,
  TIDEWATER_SPEED_GROUP: `late-speed-${id}`,
  TIDEWATER_LAKE_GROUP: `late-lake-${id}`,
  TIDEWATER_QUARANTINE_GROUP: `late-quarantine-${id}`,
  TIDEWATER_QUEUE_PREFIX: `late-${id}`,
  TIDEWATER_API_PORT: '0',
  TIDEWATER_CLICKHOUSE_HTTP_PORT: 'off',
  TIDEWATER_AUTH: '0',
  LOG_LEVEL: 'error',
};
const cfg = loadConfig(env);
const platform = await startPlatform(cfg, {
  roles: ['speed', 'lake', 'serve', 'worker', 'scheduler'],
  demo: false,
  log: say,
});
const api = platform.url as string;
const clickhouse = createClickHouse({ url: cfg.clickhouseUrl, dataDir: cfg.dataDir });
const accepted = getMetric('accepted_events');
const orchestrator = createOrchestrator(cfg);

// The span late events fall in, with the history before it.
const hourNow = Math.floor(Date.now() / HOUR) * HOUR;
const span = { from: hourNow - 50 * HOUR, to: hourNow + 2 * HOUR };

async function merged(
  extra = '',
): Promise<{ rows: { time: string; events: number }[]; meta: { lakeVersion: number | null } }> {
  const url = `${api}/v1/metrics/accepted_events?from=${new Date(span.from).toISOString()}&to=${new Date(span.to).toISOString()}&grain=hour${extra}`;
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return response.json() as never;
}
const byHour = (rows: readonly { time: string; events: number | string }[]) =>
  new Map(rows.map((r) => [Date.parse(r.time), Number(r.events)]));
async function speedByHour(): Promise<Map<number, number>> {
  const range = { from: new Date(span.from), to: new Date(span.to) };
  const rows = await queryMetric(clickhouse, accepted, range, {
    grain: 'hour',
    bucketAlias: 'time',
    dimensions: [],
  });
  return byHour(
    rows.map((r) => ({ time: `${String(r.time).replace(' ', 'T')}Z`, events: r.events as number })),
  );
}
const sum = (m: Map<number, number>) => [...m.values()].reduce((a, b) => a + b, 0);

// History: two days at a trickle, through Kafka into both layers, then recomputed.
say(`history: ${HISTORY_EVENTS} events over the last 49 hours...`);
const history = new BatchingProducer(createKafka(cfg, 'bench-late-history'), { topic: cfg.eventsTopic });
await history.connect();
const historyStart = hourNow - 49 * HOUR;
for (const record of generate({
  seed: 2,
  start: historyStart,
  count: HISTORY_EVENTS,
  rate: HISTORY_EVENTS / ((Date.now() - HOUR - historyStart) / 1000),
  dimensions: await loadPlatformDimensions(cfg.dataDir),
}))
  await history.push({ key: record.key, value: record.value });
await history.disconnect();
for (;;) {
  const answer = await merged();
  const lake =
    answer.meta.lakeVersion === null
      ? 0
      : sum(byHour((await merged(`&asOf=${answer.meta.lakeVersion}`)).rows));
  if (sum(byHour(answer.rows)) >= HISTORY_EVENTS && lake >= HISTORY_EVENTS) break;
  await sleep(1_000);
}
const { job } = await orchestrator.requestBackfill({
  from: new Date(historyStart).toISOString().slice(0, 10),
  to: new Date(Math.floor(Date.now() / DAY) * DAY + DAY).toISOString().slice(0, 10),
});
say(`history in both layers; recomputing it (${job.id})...`);
for (;;) {
  const j = await orchestrator.getJob(job.id);
  if (j?.status === 'completed') break;
  if (j?.status === 'failed') throw new Error(`backfill failed: ${JSON.stringify(j)}`);
  await sleep(500);
}
say(`watermark ${readWatermark(join(dataDir, 'batch-views'))?.watermark}`);
const base = byHour((await merged()).rows);
const speedBase = await speedByHour();
for (const [hour, n] of base)
  if ((speedBase.get(hour) ?? 0) !== n)
    throw new Error(`speed and batch differ at ${new Date(hour).toISOString()}`);

// The run: late events by hour in the order Kafka acknowledged them.
const sent = new Map<number, number[]>();
let lateSent = 0;
const runStart = new Date().toISOString();
say(`offering ${RATE} events/s for ${SECONDS} s, ${LATE_FRACTION * 100}% of them 1-48 h late...`);
const loader = spawn(
  process.execPath,
  [
    ...PLATFORM_NODE_FLAGS,
    '--import',
    'tsx',
    'bench/late-load.ts',
    String(RATE),
    String(SECONDS),
    String(LATE_FRACTION),
  ],
  { env, stdio: ['ignore', 'pipe', 'inherit'] },
);
const loaderDone = new Promise<void>((resolve) => loader.on('exit', () => resolve()));
let loading = true;
void loaderDone.then(() => {
  loading = false;
});
createInterface({ input: loader.stdout }).on('line', (line) => {
  const [at, list = ''] = line.split(' ');
  for (const part of list.split(',')) {
    const [hour, n] = part.split(':').map(Number) as [number, number];
    const times = sent.get(hour) ?? [];
    for (let i = 0; i < n; i++) times.push(Number(at));
    sent.set(hour, times);
    lateSent += n;
  }
});

/** Per hour, when the k-th late event was first seen accepted and visible. */
const acceptedAt = new Map<number, number[]>();
const visibleAt = new Map<number, number[]>();
const note = (into: Map<number, number[]>, hour: number, seen: number, at: number) => {
  const list = into.get(hour) ?? [];
  while (list.length < seen) list.push(at);
  into.set(hour, list);
};
const allVisible = () =>
  [...sent].every(([hour, times]) => (visibleAt.get(hour)?.length ?? 0) >= times.length);
let drainUntil = Number.POSITIVE_INFINITY;
const progress = setInterval(() => say(`${platform.status()}; load ${loadavg()[0]?.toFixed(1)}`), 30_000);
for (;;) {
  const started = Date.now();
  const speed = await speedByHour();
  // The answer is asked for right after the speed view was read: it misses nothing the speed view
  // held then only if it was complete when asked.
  const asked = Date.now();
  const answer = byHour((await merged()).rows);
  for (const [hour, n] of speed) note(acceptedAt, hour, n - (speedBase.get(hour) ?? 0), asked);
  for (const [hour, n] of answer) note(visibleAt, hour, n - (base.get(hour) ?? 0), asked);
  if (!loading && drainUntil === Number.POSITIVE_INFINITY) drainUntil = Date.now() + DRAIN_MS;
  if (!loading && (allVisible() || Date.now() > drainUntil)) break;
  await sleep(Math.max(0, PROBE_MS - (Date.now() - started)));
}
const end = Date.now();
clearInterval(progress);

const hidden: number[] = [];
const produced: number[] = [];
/** Late events the speed view never held by the end (the platform's lag), and accepted ones never shown. */
let notAccepted = 0;
let neverVisible = 0;
for (const [hour, times] of sent) {
  const acc = acceptedAt.get(hour) ?? [];
  const vis = visibleAt.get(hour) ?? [];
  for (let k = 0; k < times.length; k++) {
    const accepted = acc[k];
    if (accepted === undefined) {
      notAccepted++;
      continue;
    }
    // An accepted event never shown counts as hidden until the end.
    if (vis[k] === undefined) neverVisible++;
    const shown = vis[k] ?? end;
    // The speed view is read first: an event visible before it was seen accepted (a speed commit
    // between the two reads) was hidden for no time at all.
    hidden.push(Math.max(0, shown - accepted) / 1000);
    produced.push((shown - (times[k] as number)) / 1000);
  }
}
const jobs = (await orchestrator.listJobs({ queue: 'backfill', limit: 10_000 })).filter(
  (j) => j.createdAt >= runStart,
);
say(
  `late events: ${lateSent} sent, ${notAccepted} not in the speed view by the end, ${neverVisible} accepted and never visible; ${jobs.length} corrections (${jobs.filter((j) => j.status === 'completed').length} completed)`,
);
say(platform.status());
const delivered = platform.delivered().speed ?? 0;
await orchestrator.close();
await platform.stop();
const admin = createKafka(cfg, 'bench-late').admin();
await admin.connect();
await admin.deleteTopics({ topics: [cfg.eventsTopic, cfg.quarantineTopic] }).catch(() => undefined);
await admin.disconnect();
rmSync(dataDir, { recursive: true, force: true });

const round = (x: number) => Math.round(x * 1000) / 1000;
report({
  bench: 'late',
  hidden_event_seconds_p99: round(percentile(hidden, 99)),
  correction_jobs: jobs.length,
  target: 5,
  hidden_event_seconds_p50: round(percentile(hidden, 50)),
  produce_to_visible_seconds_p99: round(percentile(produced, 99)),
  late_events: lateSent,
  late_events_accepted: hidden.length,
  late_events_not_accepted_by_end: notAccepted,
  accepted_never_visible: neverVisible,
  events_per_s_taken: Math.round((delivered - HISTORY_EVENTS) / SECONDS),
  offered_events_per_s: RATE,
  seconds: SECONDS,
  calibration: referenceCalibration(),
});
