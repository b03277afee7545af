// Orchestration against the real Redis: a backfill job moves the watermark with ground-truth totals,
// a duplicate request is one job, a cancelled backfill leaves the days it did not finish with their
// previous batch view, maintenance runs in a child process at the jobs' lower priority (and dies with
// its platform), and two schedulers enqueue each tick once.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { listBatchManifests, type RecomputeResult, readWatermark } from '../batch-layer/index.ts';
import { createClickHouse } from '../clickhouse/index.ts';
import { loadConfig } from '../config/index.ts';
import { GroundTruth, generate } from '../generator/index.ts';
import { EVENTS_SCHEMA, lakeTableDir, openTable } from '../lake/index.ts';
import { createOrchestrator, jobProcesses, startScheduler, startWorkers } from '../orchestration/index.ts';
import { runInChild } from '../orchestration/job-process.ts';
import {
  batchOrders,
  finished,
  queuePrefix,
  truthOrders,
  untilJob,
  writeLake,
} from './support/orchestration.ts';

const root = mkdtempSync(join(tmpdir(), 'tidewater-orch-'));
// One chDB data directory per test file: libchdb binds one per process; the workers share it.
const client = createClickHouse({ dataDir: join(root, 'clickhouse') });
afterAll(async () => {
  await client.close();
  rmSync(root, { recursive: true, force: true });
});

function setup(name: string, env: Record<string, string> = {}) {
  const base = loadConfig();
  return loadConfig({
    ...process.env,
    TIDEWATER_DATA_DIR: join(root, name),
    TIDEWATER_QUEUE_PREFIX: queuePrefix(name, base.redisUrl),
    ...env,
  });
}

/** Four UTC days of traffic from `day` 00:15 (late events stay on the first day). */
const fourDays = (seed: number, day: string, count: number) => ({
  seed,
  count,
  start: `${day}T00:15:00Z`,
  rate: count / (3.9 * 86_400),
  lateFraction: 0.02,
  duplicateFraction: 0.01,
  badFraction: 0.01,
});

describe('backfill jobs', () => {
  it('run, move the watermark and equal the ground truth; a duplicate request is one job', async () => {
    const cfg = setup('backfill');
    const truth = new GroundTruth();
    const version = await writeLake(cfg.dataDir, fourDays(41, '2025-06-01', 12_000), truth, 3);
    const o = createOrchestrator(cfg);
    const workers = await startWorkers(cfg, { clickhouse: client });
    try {
      const request = { from: '2025-06-01', to: '2025-06-05' };
      const [a, b] = await Promise.all([o.requestBackfill(request), o.requestBackfill(request)]);
      expect(a.job.id).toBe(`backfill.2025-06-01.2025-06-05.v${version}`);
      expect(b.job.id).toBe(a.job.id);
      expect([a.created, b.created].sort()).toEqual([false, true]);

      const job = await untilJob(o, a.job.id, finished);
      expect(job).toMatchObject({ status: 'completed', progress: { fraction: 1 }, failure: null });
      expect(job.result).toMatchObject({ lakeVersion: version, watermark: '2025-06-05T00:00:00.000Z' });
      expect((job.result as { days: unknown[] }).days).toHaveLength(4);
      expect(readWatermark(join(cfg.dataDir, 'batch-views'))?.watermark).toBe('2025-06-05T00:00:00.000Z');
      const served = await batchOrders(client, '2025-06-01', '2025-06-05');
      expect(served.length).toBeGreaterThan(100);
      expect(served).toEqual(truthOrders(truth, '2025-06-01', '2025-06-05'));

      // Finished: the same request returns it; a deliberate re-run runs it again under the same id.
      expect(await o.requestBackfill(request)).toMatchObject({
        created: false,
        job: { status: 'completed' },
      });
      const days = (j: { result: unknown }) =>
        (j.result as { days: { hoursScanned: number; viewFilesRead: number }[] }).days;
      const hoursScanned = (j: { result: unknown }) => days(j).map((d) => d.hoursScanned);
      expect(hoursScanned(job), 'no view to build on').toEqual([24, 24, 24, 24]);
      expect(days(job).every((d) => d.viewFilesRead > 0)).toBe(true);
      const rerun = await o.requestBackfill({ ...request, rerun: true });
      expect(rerun.created).toBe(true);
      const rerunJob = await untilJob(o, rerun.job.id, finished);
      expect(rerunJob.status).toBe('completed');
      expect(hoursScanned(rerunJob), 'built on the views it replaces: no lake change since').toEqual([
        0, 0, 0, 0,
      ]);
      expect(
        days(rerunJob).map((d) => d.viewFilesRead),
        'ClickHouse holds the views built on: no file read',
      ).toEqual([0, 0, 0, 0]);
      expect(await o.listJobs({ queue: 'backfill' })).toHaveLength(1);
      expect(await batchOrders(client, '2025-06-01', '2025-06-05')).toEqual(served);

      // A full backfill of the same range and version is a job of its own and scans every hour.
      const full = await o.requestBackfill({ ...request, full: true });
      expect(full).toMatchObject({ created: true, job: { id: `${a.job.id}.full`, data: { full: true } } });
      expect(hoursScanned(await untilJob(o, full.job.id, finished))).toEqual([24, 24, 24, 24]);
      expect(await batchOrders(client, '2025-06-01', '2025-06-05')).toEqual(served);
    } finally {
      await workers.close();
      await o.close();
    }
  }, 180_000);

  it('cancelled mid-way: finished days hold the new view, the others keep the previous one', async () => {
    const cfg = setup('cancel');
    const before = new GroundTruth();
    const after = new GroundTruth();
    const first = fourDays(51, '2025-07-01', 12_000);
    const v1 = await writeLake(cfg.dataDir, first, before, 2);
    for (const record of generate(first)) after.add(record);
    await writeLake(cfg.dataDir, fourDays(52, '2025-07-01', 6_000), after);
    const days = ['2025-07-01', '2025-07-02', '2025-07-03', '2025-07-04', '2025-07-05'];
    const o = createOrchestrator(cfg);
    const workers = await startWorkers(cfg, { clickhouse: client });
    try {
      const previous = await o.requestBackfill({ from: days[0] as string, to: days[4] as string, asOf: v1 });
      expect((await untilJob(o, previous.job.id, finished)).status).toBe('completed');
      const watermark = readWatermark(join(cfg.dataDir, 'batch-views'));

      const { job } = await o.requestBackfill({ from: days[0] as string, to: days[4] as string });
      await untilJob(o, job.id, (j) => (j.progress?.fraction ?? 0) > 0);
      expect((await o.cancelJob(job.id))?.cancelRequested).toBe(true);
      const cancelled = await untilJob(o, job.id, finished);
      expect(cancelled, JSON.stringify(cancelled)).toMatchObject({
        status: 'cancelled',
        attempts: { made: 1 },
      });
      expect(cancelled.failure).toMatch(/^cancelled: [1-3] of 4 days replaced/);

      const replaced = Number(/: (\d) of/.exec(cancelled.failure ?? '')?.[1]);
      for (const [i, day] of days.slice(0, 4).entries()) {
        const next = days[i + 1] as string;
        const expected = i < replaced ? truthOrders(after, day, next) : truthOrders(before, day, next);
        expect(await batchOrders(client, day, next), day).toEqual(expected);
      }
      expect(truthOrders(after, days[3] as string, days[4] as string)).not.toEqual(
        truthOrders(before, days[3] as string, days[4] as string),
      );
      expect(readWatermark(join(cfg.dataDir, 'batch-views'))?.watermark).toBe(watermark?.watermark);

      // Requested again, the cancelled job runs again and completes.
      const again = await o.requestBackfill({ from: days[0] as string, to: days[4] as string });
      expect(again).toMatchObject({ created: true, job: { id: job.id } });
      expect((await untilJob(o, job.id, finished)).status).toBe('completed');
      expect(await batchOrders(client, days[0] as string, days[4] as string)).toEqual(
        truthOrders(after, days[0] as string, days[4] as string),
      );
    } finally {
      await workers.close();
      await o.close();
    }
  }, 240_000);
});

/** Whether a process runs (a zombie not yet reaped by its new parent counts as gone). */
function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * Every job child process seen while it ran, sampled every 20 ms from /proc: its nice value, and
 * whether it had libchdb mapped (it never opens ClickHouse, so it need not load the library).
 */
function watchJobChildren() {
  const seen = new Map<number, { nice: number; chdb: boolean }>();
  const timer = setInterval(() => {
    for (const pid of jobProcesses()) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const chdb = readFileSync(`/proc/${pid}/maps`, 'utf8').includes('libchdb');
        seen.set(pid, {
          nice: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]),
          chdb: chdb || (seen.get(pid)?.chdb ?? false),
        });
      } catch {
        // exited between the two
      }
    }
  }, 20);
  return {
    stop: () => {
      clearInterval(timer);
      return seen;
    },
  };
}

describe('jobs in a child process', () => {
  it('compaction and the recompute run at the jobs’ priority; a child’s failure is the job’s', async () => {
    const cfg = setup('child', { TIDEWATER_JOB_NICE: '7', TIDEWATER_JOB_ATTEMPTS: '1' });
    const truth = new GroundTruth();
    await writeLake(cfg.dataDir, fourDays(61, '2025-09-01', 8_000), truth, 6);
    const o = createOrchestrator(cfg);
    const workers = await startWorkers(cfg, { clickhouse: client, queues: ['optimize', 'backfill'] });
    const children = watchJobChildren();
    try {
      const optimize = await untilJob(o, (await o.enqueue('optimize', {})).job.id, finished);
      expect(optimize, JSON.stringify(optimize)).toMatchObject({ status: 'completed', failure: null });
      // Six commits of four days each: the events table's hours packed, one commit of its own.
      const compacted = optimize.result as { events: { filesAdded: number; filesRemoved: number } };
      expect(compacted.events.filesRemoved).toBeGreaterThan(compacted.events.filesAdded);
      expect(compacted.events.filesAdded).toBeGreaterThan(0);

      // The compacted lake's recompute (its scans in a child too) serves the ground truth.
      const backfill = await o.requestBackfill({ from: '2025-09-01', to: '2025-09-05' });
      expect((await untilJob(o, backfill.job.id, finished)).status).toBe('completed');
      expect(await batchOrders(client, '2025-09-01', '2025-09-05')).toEqual(
        truthOrders(truth, '2025-09-01', '2025-09-05'),
      );

      const seen = [...children.stop().values()];
      // One child for the compaction, one per day's recompute.
      expect(seen.length).toBeGreaterThanOrEqual(5);
      expect(new Set(seen.map((c) => c.nice))).toEqual(new Set([Math.min(19, getPriority() + 7)]));
      expect(seen.filter((c) => c.chdb)).toEqual([]);

      // A log entry the child cannot read: the job fails with the child's own message, no stack.
      const log = join(lakeTableDir(cfg.dataDir), '_delta_log');
      const last = readdirSync(log)
        .filter((f) => /^\d{20}\.json$/.test(f))
        .sort()
        .at(-1) as string;
      writeFileSync(
        join(log, `${String(Number(last.slice(0, 20)) + 1).padStart(20, '0')}.json`),
        '{"add": oops\n',
      );
      const broken = await untilJob(o, (await o.enqueue('optimize', {})).job.id, finished);
      expect(broken, JSON.stringify(broken)).toMatchObject({ status: 'failed', attempts: { made: 1 } });
      expect(broken.failure).toMatch(/json/i);
      expect(broken.failure).not.toMatch(/\n\s+at /);
    } finally {
      children.stop();
      await workers.close();
      await o.close();
    }
  }, 180_000);

  it('an abort reaches the child: its recompute stops before the batch version commits', async () => {
    const cfg = setup('child-abort');
    await writeLake(cfg.dataDir, fourDays(62, '2025-10-01', 4_000), new GroundTruth(), 2);
    const table = await openTable(lakeTableDir(cfg.dataDir), EVENTS_SCHEMA);
    const { version } = await table.refresh();
    const files = await table.filesAt({ version });
    table.close();
    const viewsDir = join(cfg.dataDir, 'batch-views');
    const recompute = (signal?: AbortSignal) =>
      runInChild(
        {
          kind: 'recompute',
          options: {
            files,
            from: '2025-10-01T00:00:00Z',
            to: '2025-10-02T00:00:00Z',
            output: { viewsDir, lakeVersion: version },
            collectRows: false,
          },
        },
        { nice: cfg.jobNice, signal },
      );

    const controller = new AbortController();
    const aborted = recompute(controller.signal);
    controller.abort();
    await expect(aborted).rejects.toThrow(/cancel requested/);
    expect(listBatchManifests(viewsDir)).toEqual([]);

    const done = (await recompute()) as RecomputeResult;
    expect(done.view?.lakeVersion).toBe(version);
    expect(listBatchManifests(viewsDir).map((m) => m.version)).toEqual([done.view?.version]);
    expect(Object.values(done.metrics).every((m) => m.rowCount > 0)).toBe(true);
  }, 60_000);

  it('a child whose platform is killed mid-query dies with it', async () => {
    const dir = mkdtempSync(join(root, 'orphan-'));
    const fifo = join(dir, 'never-written.parquet');
    execFileSync('mkfifo', [fifo]);
    const parent = spawn(process.execPath, ['--import', 'tsx', 'test/support/job-parent.ts', fifo], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await once(parent.stdout, 'data')) as [Buffer];
    const child = Number(line.toString().trim());
    // The child is in its recompute: DuckDB waits on the FIFO on a thread of libuv's pool.
    await sleep(2_000);
    expect(alive(child)).toBe(true);
    parent.kill('SIGKILL');
    const deadline = Date.now() + 10_000;
    while (alive(child) && Date.now() < deadline) await sleep(100);
    expect(alive(child), `job child ${child} outlived its platform`).toBe(false);
  }, 30_000);
});

describe('schedules', () => {
  /** Only the recompute scheduled, on `cron`. */
  const recomputeOnly = (name: string, cron: string) =>
    setup(name, {
      TIDEWATER_RECOMPUTE_CRON: cron,
      TIDEWATER_OPTIMIZE_CRON: 'off',
      TIDEWATER_VACUUM_CRON: 'off',
      TIDEWATER_REPORT_CRON: 'off',
      TIDEWATER_CORRECTION_CRON: 'off',
    });

  it('two schedulers enqueue each tick once', async () => {
    const cfg = recomputeOnly('schedule', '* * * * * *');
    const a = startScheduler(cfg);
    const b = startScheduler(cfg);
    const o = createOrchestrator(cfg);
    try {
      // Stopped a few ms after a tick fires, while its enqueue is under way: it must still count.
      await sleep(3_000 + 1_000 - (Date.now() % 1_000) + 5);
      await Promise.all([a.stop(), b.stop()]);
      const ticks = a.enqueued.recompute + b.enqueued.recompute;
      expect(ticks).toBeGreaterThanOrEqual(3);
      const jobs = await o.listJobs({ queue: 'recompute' });
      expect(jobs).toHaveLength(ticks);

      // The same tick from both at once: one enqueues.
      const c = startScheduler(cfg);
      const d = startScheduler(cfg);
      const at = new Date('2025-08-02T00:10:00Z');
      const won = await Promise.all([c.tick('validation-report', at), d.tick('validation-report', at)]);
      await Promise.all([c.stop(), d.stop()]);
      expect(won.sort()).toEqual([false, true]);
      const reports = await o.listJobs({ queue: 'validation-report' });
      expect(reports).toHaveLength(1);
      expect(reports[0]?.data).toMatchObject({ day: '2025-08-01' });
    } finally {
      await o.close();
    }
  }, 30_000);

  it('a tick the event loop holds past its time fires late rather than being skipped', async () => {
    const cfg = recomputeOnly('late-tick', '*/5 * * * * *');
    const scheduler = startScheduler(cfg);
    const o = createOrchestrator(cfg);
    try {
      // Busy from 300 ms before a tick to 2.2 s after it, as a loaded process's event loop can be
      // (node-cron's own tolerance is 1 s).
      await sleep(5_000 - (Date.now() % 5_000) - 300);
      const slot = Math.ceil(Date.now() / 5_000) * 5_000;
      while (Date.now() < slot + 2_200) {
        // hold the event loop
      }
      await sleep(1_500);
      await scheduler.stop();
      // The held tick's job, enqueued once the loop was free (a sleep that overshot may have let an
      // earlier tick through on time: its job is older).
      const jobs = await o.listJobs({ queue: 'recompute' });
      expect(jobs.filter((j) => Date.parse(j.createdAt) >= slot + 2_200)).toHaveLength(1);
    } finally {
      await o.close();
    }
  }, 30_000);
});
