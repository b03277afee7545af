// The scheduled jobs that run beside the consumers in the all-in-one platform, over a day of the
// soak's traffic: 6M events (default) in 60 lake commits, as the lake writer's 60 s commits leave
// ten minutes at 10,000 events/s. (1) Compaction (`optimize`, every 15 minutes) as the jobs open the
// table (LAKE_TABLES), and next to it with DuckDB's default threads, for the ratio that explains
// the jobs' one thread; (2) the hourly recompute: the day recomputed by DuckDB and loaded into
// embedded ClickHouse (backfill), on the jobs' one thread as the scheduled task runs it, and next to
// it with DuckDB's default threads. Each run of a job is its own child process on a fresh copy of the
// lake, so its peak RSS above the process's RSS when the job starts is the job's alone. 3 runs of
// each, interleaved; figures are medians.
// Last line: {"bench":"jobs","optimize_peak_mb":N,"optimize_s":N,"optimize_default_threads_peak_mb":N,
// "optimize_memory_ratio":R,"recompute_peak_mb":N,"recompute_s":N,"recompute_memory_ratio":R,...,
// "calibration":{...}}
// Usage: npm run bench:jobs [-- <events, default 6000000>]
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backfill, batchViewsDir } from '../batch-layer/index.ts';
import { createClickHouse } from '../clickhouse/index.ts';
import { buildDimensions, indexDimensions } from '../contracts/index.ts';
import { JOB_THREADS } from '../duckdb/index.ts';
import { generate } from '../generator/index.ts';
import { EVENTS_SCHEMA, LAKE_TABLES, lakeTableDir, openTable, stageAccepted } from '../lake/index.ts';
import type { AcceptedRecord } from '../quality/index.ts';
import { acceptedAt, median, referenceCalibration, report, say } from './support.ts';

const MB = 1024 * 1024;
const DAY = '2025-06-02';
const NEXT_DAY = '2025-06-03';
const START = Date.parse(`${DAY}T10:00:00Z`);
const RATE = 10_000;
const COMMIT_EVENTS = 100_000;
const RUNS = 3;
const TARGET_PEAK_MB = 512;

type Job = 'optimize' | 'optimize-default-threads' | 'recompute' | 'recompute-default-threads';
interface JobFigures {
  ms: number;
  peakMb: number;
  detail: string;
}

/** In a child process: runs `job` on the platform data directory `dataDir` and prints its figures. */
async function runJob(job: Job, dataDir: string): Promise<JobFigures> {
  let peak = 0;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage().rss);
  };
  const timer = setInterval(sample, 10);
  const measure = async (work: () => Promise<string>) => {
    const base = process.memoryUsage().rss;
    peak = base;
    const started = performance.now();
    const detail = await work();
    sample();
    return { ms: performance.now() - started, peakMb: (peak - base) / MB, detail };
  };
  try {
    if (job === 'recompute' || job === 'recompute-default-threads') {
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
            threads: job === 'recompute' ? JOB_THREADS : undefined,
          });
          const rows = days
            .flatMap((d) => Object.values(d.result.load.metrics))
            .reduce((n, m) => n + m.rows, 0);
          return `${rows} rows loaded`;
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
        return `${filesRemoved} files into ${filesAdded}`;
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

const EVENTS = Number(process.argv[2] ?? 6_000_000);
const root = mkdtempSync(join(tmpdir(), 'bench-jobs-'));
try {
  const template = join(root, 'template');
  const table = await openTable(lakeTableDir(template), EVENTS_SCHEMA);
  const dims = indexDimensions(buildDimensions());
  let offset = 0;
  let records: AcceptedRecord[] = [];
  const commit = async () => {
    await table.appendBatch(stageAccepted(records, dims), {
      txn: [{ appId: 'bench-jobs:events:0', version: offset }],
    });
    records = [];
    if ((offset / COMMIT_EVENTS) % 10 === 0) say(`lake: ${offset.toLocaleString('en')} events written`);
  };
  for (const record of generate({ seed: 7, count: EVENTS, rate: RATE, start: START })) {
    if (!record.event) continue;
    records.push(acceptedAt(record.event, record.value, offset++));
    if (records.length === COMMIT_EVENTS) await commit();
  }
  if (records.length > 0) await commit();
  const files = (await table.filesAt()).length;
  table.close();

  const figures: Record<Job, JobFigures[]> = {
    optimize: [],
    'optimize-default-threads': [],
    recompute: [],
    'recompute-default-threads': [],
  };
  for (let run = 1; run <= RUNS; run++) {
    for (const job of Object.keys(figures) as Job[]) {
      const dataDir = join(root, `${job}-${run}`);
      cpSync(template, dataDir, { recursive: true });
      const out = execFileSync(
        process.execPath,
        [...process.execArgv, import.meta.filename, '--job', job, dataDir],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      const f = JSON.parse(out.trim().split('\n').at(-1) as string) as JobFigures;
      figures[job].push(f);
      say(
        `run ${run}: ${job} ${(f.ms / 1000).toFixed(1)} s, peak +${Math.round(f.peakMb)} MB RSS (${f.detail})`,
      );
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  const peak = (job: Job) => Math.round(median(figures[job].map((f) => f.peakMb)));
  const seconds = (job: Job) => Math.round(median(figures[job].map((f) => f.ms)) / 100) / 10;
  // Per run, DuckDB's default threads' peak against the jobs' one thread's next to it; the median.
  const ratio = (job: Job, defaults: Job) =>
    Math.round(
      median(figures[job].map((f, i) => (figures[defaults][i] as JobFigures).peakMb / f.peakMb)) * 100,
    ) / 100;
  report({
    bench: 'jobs',
    events: offset,
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
    target_peak_mb: TARGET_PEAK_MB,
    calibration: referenceCalibration(),
  });
} finally {
  rmSync(root, { recursive: true, force: true });
}
