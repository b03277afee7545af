// The scheduled jobs that run beside the consumers in the all-in-one platform, over a day of the
// soak's traffic: 6M events (default) in 60 lake commits, as the lake writer's 60 s commits leave
// ten minutes at 10,000 events/s. (1) Compaction (`optimize`, every 15 minutes) as the jobs open the
// table (LAKE_TABLES), and next to it with DuckDB's default threads, for the ratio that explains
// the jobs' one thread; (2) the hourly recompute: the day recomputed by DuckDB and loaded into
// embedded ClickHouse (backfill), on the jobs' one thread as the scheduled task runs it, and next to
// it with DuckDB's default threads. Each run of a job is its own child process on a fresh copy of the
// lake, so its peak RSS above the process's RSS when the job starts is the job's alone. 3 runs of
// each, interleaved; figures are medians. (3) The hourly recompute late in a day: half as many events
// over 12 hours, the day's batch view recomputed after 11 of them, then the 12th hour's commits; the
// recompute built on that view (scanning the hours changed since, as scheduled) next to a full one.
// At 50,000 events/s an hour brings 180M events, so the hourly recompute keeps up only if it scans
// an hour's events at that rate or faster (`hourly_recompute_events_per_s`, the hour's events over
// the built-on run's time, load included).
// Last line: {"bench":"jobs","optimize_peak_mb":N,"optimize_s":N,"optimize_default_threads_peak_mb":N,
// "optimize_memory_ratio":R,"recompute_peak_mb":N,"recompute_s":N,"recompute_memory_ratio":R,...,
// "hourly_recompute_s":N,"hourly_recompute_full_s":N,"hourly_recompute_speedup":R,
// "hourly_recompute_events_per_s":N,...,"calibration":{...}}
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backfill, batchViewsDir, hoursScanned, viewFilesRead } from '../batch-layer/index.ts';
import { createClickHouse } from '../clickhouse/index.ts';
import { buildDimensions, indexDimensions } from '../contracts/index.ts';
import { JOB_THREADS } from '../duckdb/index.ts';
import { type GeneratedRecord, generate } from '../generator/index.ts';
import { EVENTS_SCHEMA, LAKE_TABLES, lakeTableDir, openTable, stageAccepted } from '../lake/index.ts';
import type { AcceptedRecord } from '../quality/index.ts';
import { acceptedAt, benchArgs, median, referenceCalibration, report, say } from './support.ts';

const MB = 1024 * 1024;
const DAY = '2025-06-02';
const NEXT_DAY = '2025-06-03';
const START = Date.parse(`${DAY}T10:00:00Z`);
const RATE = 10_000;
const COMMIT_EVENTS = 100_000;
const RUNS = 3;
const TARGET_PEAK_MB = 512;
const DAY_HOURS = 12;
/** The rate an hourly recompute must scan at to keep up with the platform's 50,000 events/s. */
const TARGET_HOURLY_EVENTS_PER_S = 50_000;

type Job =
  | 'optimize'
  | 'optimize-default-threads'
  | 'recompute'
  | 'recompute-default-threads'
  | 'hourly-recompute'
  | 'hourly-recompute-full';
interface JobFigures {
  ms: number;
  peakMb: number;
  detail: string;
  /** A recompute's DuckDB part (every metric's rollup and view file); the rest is mostly the load. */
  recomputeMs?: number;
}

/** In a child process: runs `job` on the platform data directory `dataDir` and prints its figures. */
async function runJob(job: Job, dataDir: string): Promise<JobFigures> {
  let peak = 0;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage().rss);
  };
  const timer = setInterval(sample, 10);
  const measure = async (work: () => Promise<Omit<JobFigures, 'ms' | 'peakMb'>>): Promise<JobFigures> => {
    const base = process.memoryUsage().rss;
    peak = base;
    const started = performance.now();
    const done = await work();
    sample();
    return { ms: performance.now() - started, peakMb: (peak - base) / MB, ...done };
  };
  try {
    if (job !== 'optimize' && job !== 'optimize-default-threads') {
      // The platform's chDB is open when a job runs: its baseline is part of the process's.
      const client = createClickHouse({ dataDir });
      await client.query({ query: 'SELECT 1' });
      try {
        return await measure(async () => {
          const { days } = await backfill({
            client,
            lakeDir: lakeTableDir(dataDir),
            viewsDir: batchViewsDir(dataDir),
            from: `${DAY}T00:00:00Z`,
            to: `${NEXT_DAY}T00:00:00Z`,
            allowedLatenessMs: 600_000,
            threads: job === 'recompute-default-threads' ? undefined : JOB_THREADS,
            full: job === 'hourly-recompute-full',
          });
          const rows = days
            .flatMap((d) => Object.values(d.result.load.metrics))
            .reduce((n, m) => n + m.rows, 0);
          const filesRead = days.reduce((n, d) => n + viewFilesRead(d.result), 0);
          const recomputeMs = days
            .flatMap((d) => Object.values(d.result.recompute.metrics))
            .reduce((n, m) => n + m.ms, 0);
          const hours = days.map((d) => hoursScanned(d.result)).join(' + ');
          return {
            detail: `${rows} rows loaded (${filesRead} view files read), ${hours} hours scanned, ${(recomputeMs / 1000).toFixed(1)} s in DuckDB`,
            recomputeMs,
          };
        });
      } finally {
        await client.close();
      }
    }
    const table =
      job === 'optimize'
        ? await LAKE_TABLES.events(dataDir)
        : await openTable(lakeTableDir(dataDir), EVENTS_SCHEMA);
    try {
      return await measure(async () => {
        const { filesAdded, filesRemoved } = await table.optimize();
        return { detail: `${filesRemoved} files into ${filesAdded}` };
      });
    } finally {
      table.close();
    }
  } finally {
    clearInterval(timer);
  }
}

if (process.argv[2] === '--job') {
  const figures = await runJob(process.argv[3] as Job, process.argv[4] as string);
  process.stdout.write(`${JSON.stringify(figures)}\n`);
  process.exit(0);
}

const args = benchArgs('npm run bench:jobs -- [events=6000000]');
const EVENTS = args.number(0, 'events', 6_000_000);
args.done();
const root = mkdtempSync(join(tmpdir(), 'bench-jobs-'));
const dims = indexDimensions(buildDimensions());
/** The writer's id in the lake's txn actions: its version is the next offset to write. */
const APP_ID = 'bench-jobs:events:0';

/**
 * Writes the next `count` of `records` (the valid ones) to the events table in `dataDir`'s lake, in
 * commits as the lake writer makes them; returns the events and files the table then holds.
 */
async function writeLake(
  dataDir: string,
  records: Iterator<GeneratedRecord>,
  count: number,
): Promise<{ events: number; files: number }> {
  const table = await openTable(lakeTableDir(dataDir), EVENTS_SCHEMA);
  let offset = (await table.txnVersion(APP_ID)) ?? 0;
  const end = offset + count;
  let batch: AcceptedRecord[] = [];
  const commit = async () => {
    await table.appendBatch(stageAccepted(batch, dims), {
      txn: [{ appId: APP_ID, version: offset }],
    });
    batch = [];
    if ((offset / COMMIT_EVENTS) % 10 === 0) say(`lake: ${offset.toLocaleString('en')} events written`);
  };
  try {
    while (offset < end) {
      const next = records.next();
      if (next.done) break;
      if (!next.value.event) continue;
      batch.push(acceptedAt(next.value.event, next.value.value, offset++));
      if (batch.length === COMMIT_EVENTS) await commit();
    }
    if (batch.length > 0) await commit();
    return { events: offset, files: (await table.filesAt()).length };
  } finally {
    table.close();
  }
}

/** Runs `job` in a child process on `dataDir` and returns its figures. */
function runChild(job: Job, dataDir: string): JobFigures {
  const out = execFileSync(
    process.execPath,
    [...process.execArgv, import.meta.filename, '--job', job, dataDir],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return JSON.parse(out.trim().split('\n').at(-1) as string) as JobFigures;
}

try {
  // (1), (2): ten minutes of the soak's traffic at 10,000 events/s.
  const template = join(root, 'template');
  const { events, files } = await writeLake(
    template,
    generate({ seed: 7, count: EVENTS, rate: RATE, start: START })[Symbol.iterator](),
    EVENTS,
  );
  // (3): half as many events over 12 hours; the day's view after 11 of them, then the 12th.
  const dayTemplate = join(root, 'day');
  const dayEvents = Math.round(EVENTS / 2);
  const day = generate({
    seed: 8,
    count: dayEvents,
    rate: dayEvents / (DAY_HOURS * 3_600),
    start: `${DAY}T00:00:00Z`,
  })[Symbol.iterator]();
  const before = await writeLake(dayTemplate, day, Math.round((dayEvents * (DAY_HOURS - 1)) / DAY_HOURS));
  say(
    `the day's batch view after ${DAY_HOURS - 1} hours: ${runChild('hourly-recompute-full', dayTemplate).detail}`,
  );
  const lastHourEvents = (await writeLake(dayTemplate, day, dayEvents)).events - before.events;

  const figures: Record<Job, JobFigures[]> = {
    optimize: [],
    'optimize-default-threads': [],
    recompute: [],
    'recompute-default-threads': [],
    'hourly-recompute': [],
    'hourly-recompute-full': [],
  };
  for (let run = 1; run <= RUNS; run++) {
    for (const job of Object.keys(figures) as Job[]) {
      const dataDir = join(root, `${job}-${run}`);
      cpSync(job.startsWith('hourly') ? dayTemplate : template, dataDir, { recursive: true });
      const f = runChild(job, dataDir);
      figures[job].push(f);
      say(
        `run ${run}: ${job} ${(f.ms / 1000).toFixed(1)} s, peak +${Math.round(f.peakMb)} MB RSS (${f.detail})`,
      );
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  const peak = (job: Job) => Math.round(median(figures[job].map((f) => f.peakMb)));
  const seconds = (job: Job) => Math.round(median(figures[job].map((f) => f.ms)) / 100) / 10;
  const duckdbSeconds = (job: Job) =>
    Math.round(median(figures[job].map((f) => f.recomputeMs ?? 0)) / 100) / 10;
  // Per run, DuckDB's default threads' peak against the jobs' one thread's next to it; the median.
  const ratio = (job: Job, defaults: Job) =>
    Math.round(
      median(figures[job].map((f, i) => (figures[defaults][i] as JobFigures).peakMb / f.peakMb)) * 100,
    ) / 100;
  report({
    bench: 'jobs',
    events,
    files,
    optimize_peak_mb: peak('optimize'),
    optimize_s: seconds('optimize'),
    optimize_default_threads_peak_mb: peak('optimize-default-threads'),
    optimize_default_threads_s: seconds('optimize-default-threads'),
    optimize_memory_ratio: ratio('optimize', 'optimize-default-threads'),
    recompute_peak_mb: peak('recompute'),
    recompute_s: seconds('recompute'),
    recompute_default_threads_peak_mb: peak('recompute-default-threads'),
    recompute_default_threads_s: seconds('recompute-default-threads'),
    recompute_memory_ratio: ratio('recompute', 'recompute-default-threads'),
    hourly_recompute_s: seconds('hourly-recompute'),
    hourly_recompute_peak_mb: peak('hourly-recompute'),
    hourly_recompute_full_s: seconds('hourly-recompute-full'),
    hourly_recompute_full_peak_mb: peak('hourly-recompute-full'),
    // Per run, the full recompute's time against the built-on one's next to it; the median.
    hourly_recompute_speedup:
      Math.round(
        median(
          figures['hourly-recompute'].map(
            (f, i) => (figures['hourly-recompute-full'][i] as JobFigures).ms / f.ms,
          ),
        ) * 10,
      ) / 10,
    hourly_recompute_duckdb_s: duckdbSeconds('hourly-recompute'),
    hourly_recompute_full_duckdb_s: duckdbSeconds('hourly-recompute-full'),
    hourly_recompute_events_per_s: Math.round(
      lastHourEvents / (median(figures['hourly-recompute'].map((f) => f.ms)) / 1000),
    ),
    target_hourly_recompute_events_per_s: TARGET_HOURLY_EVENTS_PER_S,
    target_peak_mb: TARGET_PEAK_MB,
    calibration: referenceCalibration(),
  });
} finally {
  rmSync(root, { recursive: true, force: true });
}
