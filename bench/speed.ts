// Speed layer: (a) sustained events/s from a pre-filled topic through gate and ClickHouse, timed
// from the first delivered range to lag 0 (pre-fill not timed; the rate counting start-up is
// printed too); (b) latency from produce to visible in a
// rollup query while producing at a fixed rate: every chunk's good orders must show in the
// orders view's total, polled continuously.
// Last line: {"bench":"speed","events_per_s":N,"events_per_s_with_startup":N,"p50_ms":N,"p99_ms":N,"target_events_per_s":100000,"target_p99_ms":1000}
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import { Registry } from 'prom-client';
import { loadConfig } from '../config/index.ts';
import { getMetric, metricTable } from '../contracts/index.ts';
import { generate } from '../generator/index.ts';
import { BatchingProducer, createKafka, ensureTopics, platformTopics } from '../kafka/index.ts';
import { fetchPositions, lagOf } from '../pipeline/index.ts';
import { type SpeedLayer, startSpeedLayer } from '../speed-layer/index.ts';
import {
  benchArgs,
  describeThreadCpu,
  PLATFORM_NODE_FLAGS,
  percentile,
  referenceCalibration,
  report,
  say,
  threadCpu,
} from './support.ts';

const args = benchArgs('npm run bench:speed -- [events=5000000] [latency-seconds=20] [rate=50000]');
const EVENTS = args.number(0, 'events', 5_000_000);
const LATENCY_SECONDS = args.number(1, 'latency-seconds', 20);
const RATE = args.number(2, 'rate', 50_000);
args.done();
const TARGET_EVENTS_PER_S = 100_000;
const TARGET_P99_MS = 1_000;
/**
 * Between visibility polls. Each poll costs chDB ~4 ms of CPU, so polling every 10 ms took a
 * quarter of a core from the layer under test; 50 ms adds at most 50 ms to a measured latency.
 */
const POLL_MS = 50;
const FAULTS = { lateFraction: 0.02, duplicateFraction: 0.01, badFraction: 0.01 };

const id = randomUUID().slice(0, 8);
const dataDir = mkdtempSync(join(tmpdir(), 'tidewater-bench-speed-'));
const env = {
  TIDEWATER_EVENTS_TOPIC: `bench-speed-${id}`,
  TIDEWATER_QUARANTINE_TOPIC: `bench-speed-${id}.quarantine`,
  TIDEWATER_DATA_DIR: dataDir,
  LOG_LEVEL: 'error',
};
const cfg = loadConfig({ ...process.env, ...env });
const groupId = `bench-speed-${id}`;
const kafka = createKafka(cfg, 'bench');
const admin = kafka.admin();
await admin.connect();
await ensureTopics(admin, platformTopics(cfg));

async function lag(): Promise<number> {
  return (await fetchPositions(admin, groupId, cfg.eventsTopic)).reduce((sum, p) => sum + lagOf(p), 0);
}

async function prefill(): Promise<void> {
  say(
    `pre-filling ${EVENTS.toLocaleString('en')} events into ${cfg.eventsTopic} (${cfg.eventsPartitions} partitions)...`,
  );
  const producer = new BatchingProducer(kafka, { topic: cfg.eventsTopic });
  await producer.connect();
  const started = performance.now();
  for (const r of generate({ seed: 5, count: EVENTS, rate: 50_000, ...FAULTS })) await producer.push(r);
  await producer.disconnect();
  say(`pre-filled in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** A meter started now: where the CPU went by the time it is read, per event of `events`. */
function usage() {
  const cpu = process.cpuUsage();
  const threads = threadCpu();
  const loop = performance.eventLoopUtilization();
  const started = performance.now();
  return (events: number) => {
    const { user, system } = process.cpuUsage(cpu);
    const seconds = (performance.now() - started) / 1000;
    return (
      `CPU ${((user + system) / events).toFixed(1)} µs/event, ${((user + system) / 1e6 / seconds).toFixed(2)} cores busy, ` +
      `main thread ${(performance.eventLoopUtilization(loop).utilization * 100).toFixed(0)}% busy, load ${loadavg()[0]?.toFixed(1)}\n` +
      `  by thread (µs/event): ${describeThreadCpu(threads, events)}`
    );
  };
}

interface Throughput {
  /** From the first delivered range to lag 0: the rate the layer keeps up. */
  sustained: number;
  /** From start-up (topics, DDL, gate threads, joining the group) to lag 0. */
  overall: number;
  startupMs: number;
}

async function throughput(speed: SpeedLayer, started: number): Promise<Throughput> {
  let shown = started;
  const used = usage();
  /** When the first range was seen delivered, and how many records were by then. */
  let first: { at: number; delivered: number } | undefined;
  for (;;) {
    const behind = await lag();
    const now = performance.now();
    const delivered = speed.consumer.delivered;
    if (first === undefined && delivered > 0) first = { at: now, delivered };
    if (behind === 0) {
      say(`  ${used(EVENTS)}`);
      const from = first ?? { at: started, delivered: 0 };
      return {
        sustained: (EVENTS - from.delivered) / ((now - from.at) / 1000),
        overall: EVENTS / ((now - started) / 1000),
        startupMs: from.at - started,
      };
    }
    if (now - shown > 5_000) {
      shown = now;
      const rate = delivered / ((now - started) / 1000);
      say(
        `  ${delivered.toLocaleString('en')} delivered (${Math.round(rate).toLocaleString('en')}/s), lag ${behind.toLocaleString('en')}`,
      );
    }
    await sleep(100);
  }
}

async function insertStats(registry: Registry) {
  const values = (await registry.getSingleMetric('tidewater_speed_insert_seconds')?.get())?.values ?? [];
  const pick = (name: string) =>
    values.find((v) => (v as { metricName?: string }).metricName === name)?.value ?? 0;
  return {
    count: pick('tidewater_speed_insert_seconds_count'),
    seconds: pick('tidewater_speed_insert_seconds_sum'),
  };
}

type InsertStats = Awaited<ReturnType<typeof insertStats>>;
const describeInserts = (from: InsertStats, to: InsertStats) => {
  const count = to.count - from.count;
  return `${count} inserts, ${(((to.seconds - from.seconds) / Math.max(count, 1)) * 1000).toFixed(0)} ms each on average`;
};

/** Good orders visible in the speed view since `from`. */
async function visibleOrders(clickhouse: ClickHouseClient, from: Date): Promise<number> {
  const result = await clickhouse.query({
    query: `SELECT sum(orders) AS n FROM ${metricTable(getMetric('orders'))} WHERE minute >= {from:DateTime64(3, 'UTC')}`,
    query_params: { from: from.toISOString().replace('T', ' ').replace('Z', '') },
    format: 'JSONEachRow',
  });
  const [row] = await result.json<{ n: string | number }>();
  return Number(row?.n ?? 0);
}

/** Produce-to-visible latency of each chunk the load process sends (bench/speed-load.ts). */
async function latency(speed: SpeedLayer): Promise<number[]> {
  const from = new Date(Date.now() - 3_600_000);
  const base = await visibleOrders(speed.clickhouse, from);
  const delivered = speed.consumer.delivered;
  const used = usage();
  const load = spawn(
    process.execPath,
    [...PLATFORM_NODE_FLAGS, '--import', 'tsx', 'bench/speed-load.ts', String(RATE), String(LATENCY_SECONDS)],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  /** Per acknowledged chunk: when it was sent and the good-order total it completes. */
  const sent: { at: number; orders: number }[] = [];
  let done = false;
  load.once('exit', () => {
    done = true;
  });
  createInterface({ input: load.stdout }).on('line', (line) => {
    const [at, orders] = line.split(' ').map(Number);
    sent.push({ at: at ?? 0, orders: orders ?? 0 });
  });
  const latencies: number[] = [];
  while (!done || latencies.length < sent.length) {
    const visible = (await visibleOrders(speed.clickhouse, from)) - base;
    const now = Date.now();
    for (let next = latencies.length; next < sent.length && (sent[next]?.orders ?? 0) <= visible; next++) {
      latencies.push(now - (sent[next]?.at ?? now));
    }
    await sleep(POLL_MS);
  }
  say(`latency run: ${sent.length} chunks, ${(sent.at(-1)?.orders ?? 0).toLocaleString('en')} orders`);
  say(`  ${used(speed.consumer.delivered - delivered)}`);
  return latencies;
}

try {
  await prefill();
  const started = performance.now();
  const registry = new Registry();
  const speed = await startSpeedLayer(cfg, { groupId, registry });
  try {
    const rate = await throughput(speed, started);
    say(
      `throughput: ${Math.round(rate.sustained).toLocaleString('en')} events/s from the first delivery to lag 0; ` +
        `${Math.round(rate.overall).toLocaleString('en')} events/s counting the ${(rate.startupMs / 1000).toFixed(1)} s of start-up`,
    );
    const afterThroughput = await insertStats(registry);
    say(`  ${describeInserts({ count: 0, seconds: 0 }, afterThroughput)}`);
    say(`latency at ${RATE.toLocaleString('en')} events/s for ${LATENCY_SECONDS} s...`);
    const latencies = await latency(speed);
    say(`  ${describeInserts(afterThroughput, await insertStats(registry))}`);
    report({
      bench: 'speed',
      events_per_s: Math.round(rate.sustained),
      events_per_s_with_startup: Math.round(rate.overall),
      p50_ms: Math.round(percentile(latencies, 50)),
      p99_ms: Math.round(percentile(latencies, 99)),
      target_events_per_s: TARGET_EVENTS_PER_S,
      target_p99_ms: TARGET_P99_MS,
      calibration: referenceCalibration(),
    });
  } finally {
    await speed.stop();
  }
} finally {
  await admin.deleteTopics({ topics: [cfg.eventsTopic, cfg.quarantineTopic] }).catch(() => undefined);
  await admin.disconnect();
  rmSync(dataDir, { recursive: true, force: true });
}
