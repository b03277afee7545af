// What each queue's job does, through the other layers' public surfaces. Each task gets the job's
// AbortSignal and a progress callback; a task with no safe point to stop at ignores the signal.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type BackfillProgress,
  type BackfillResult,
  backfill,
  batchViewsDir,
  hoursScanned,
  pendingCorrections,
  type RecomputeResult,
  readWatermark,
  scanCorrections,
  viewFilesRead,
} from '../batch-layer/index.ts';
import { JOB_THREADS } from '../duckdb/index.ts';
import { lakeTableDir, openQuarantineStore, quarantineTableDir } from '../lake/index.ts';
import {
  FileReportStore,
  type QuarantineStore,
  replayWithCurrentRules,
  reportsDir,
} from '../quality/index.ts';
import { runInChild } from './job-process.ts';
import { MAINTENANCE_TASKS } from './maintenance-tasks.ts';
import { createOrchestrator } from './orchestrator.ts';
import type { JobPayloads, QueueName } from './queues.ts';
import type { Task, TaskContext } from './task.ts';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Thrown when the signal stopped a backfill: says how far it got. */
export class Cancelled extends Error {}

async function runBackfill(
  ctx: TaskContext,
  from: string,
  to: string,
  { asOfVersion, full }: { asOfVersion?: number; full?: boolean } = {},
) {
  let last: BackfillProgress | undefined;
  let result: BackfillResult;
  try {
    result = await backfill({
      client: ctx.clickhouse(),
      lakeDir: lakeTableDir(ctx.cfg.dataDir),
      viewsDir: batchViewsDir(ctx.cfg.dataDir),
      from: `${from}T00:00:00Z`,
      to: `${to}T00:00:00Z`,
      asOfVersion,
      full,
      allowedLatenessMs: ctx.cfg.allowedLatenessMinutes * 60_000,
      signal: ctx.signal,
      threads: JOB_THREADS,
      // DuckDB's scans at the jobs' priority; the load into ClickHouse stays here (job-process.ts).
      recompute: ({ signal, ...options }) =>
        runInChild(
          { kind: 'recompute', options },
          { nice: ctx.cfg.jobNice, signal },
        ) as Promise<RecomputeResult>,
      onProgress: (p) => {
        last = p;
        ctx.progress(p.done / p.total, `${p.day} replaced (${p.done} of ${p.total} days)`);
      },
    });
  } catch (error) {
    if (!ctx.signal.aborted) throw error;
    const done = last
      ? `${last.done} of ${last.total} days replaced, through ${last.day}`
      : 'no day replaced';
    throw new Cancelled(`${done}; the other days keep their previous batch view`);
  }
  const watermark = readWatermark(batchViewsDir(ctx.cfg.dataDir));
  return {
    lakeVersion: result.lakeVersion,
    days: result.days.map(({ day, result: r }) => ({
      day,
      batchVersion: r.load.version,
      rows: Object.values(r.recompute.metrics).reduce((n, m) => n + m.rowCount, 0),
      hoursScanned: hoursScanned(r),
      viewFilesRead: viewFilesRead(r),
    })),
    // A dead load's leftovers this job cleared; the job's result is where an operator looks.
    staleStagingDropped: result.days.flatMap(({ result: r }) => r.load.staleStagingDropped),
    watermark: watermark?.watermark ?? null,
  };
}

/**
 * The closed hours up to `until`: the UTC days from the watermark's (no gap is left behind it, or it
 * could not advance) through the one holding the last closed hour, at the lake's latest version.
 */
const recompute: Task<'recompute'> = (data, ctx) => {
  const until = Date.parse(data.until);
  if (!Number.isFinite(until) || until % HOUR_MS !== 0)
    throw new Error(`until must be a whole hour: ${data.until}`);
  const lastDay = Math.floor((until - 1) / DAY_MS) * DAY_MS;
  const watermark = readWatermark(batchViewsDir(ctx.cfg.dataDir));
  const firstDay = watermark
    ? Math.min(Math.floor(Date.parse(watermark.watermark) / DAY_MS) * DAY_MS, lastDay)
    : lastDay;
  return runBackfill(ctx, dayOf(firstDay), dayOf(lastDay + DAY_MS));
};

async function replay(data: JobPayloads['quarantine-replay'], ctx: TaskContext) {
  const store = await openQuarantineStore(quarantineTableDir(ctx.cfg.dataDir));
  try {
    return await replayWithCurrentRules({
      store,
      filter: data.filter,
      cfg: ctx.cfg,
      dryRun: data.dryRun,
      onProgress: (p) => {
        const todo = p.selected - p.alreadyReplayed;
        ctx.progress(todo > 0 ? p.processed / todo : 1, `${p.processed} of ${todo} records validated`);
      },
    });
  } finally {
    store.close();
  }
}

/** One UTC day's quality: the gate's per-minute reports summed, and what quarantine holds by rule. */
async function validationReport(data: JobPayloads['validation-report'], ctx: TaskContext) {
  const { cfg } = ctx;
  const from = Date.parse(`${data.day}T00:00:00Z`);
  if (!Number.isFinite(from)) throw new Error(`day must be YYYY-MM-DD: ${data.day}`);
  const windows = await new FileReportStore(reportsDir(cfg.dataDir)).list({
    from,
    to: from + DAY_MS,
    kind: 'window',
  });
  const gate = { minutes: windows.length, in: 0, accepted: 0, rejected: 0, duplicates: 0, late: 0 };
  for (const w of windows)
    for (const k of ['in', 'accepted', 'rejected', 'duplicates', 'late'] as const) gate[k] += w[k];
  const store = await openQuarantineStore(quarantineTableDir(cfg.dataDir));
  let quarantine: Awaited<ReturnType<QuarantineStore['summary']>>;
  try {
    quarantine = await store.summary({
      from: new Date(from).toISOString(),
      to: new Date(from + DAY_MS).toISOString(),
    });
  } finally {
    store.close();
  }
  const report = { day: data.day, gate, quarantine, createdAt: new Date().toISOString() };
  const dir = join(reportsDir(cfg.dataDir), 'daily');
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${data.day}.json`);
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
  return { ...report, path };
}

/**
 * The correction scan: records the hours the lake's new commits touched, then enqueues a backfill of
 * each day below the watermark holding rows no batch view read, at the version scanned (one job per
 * day and version), once its oldest such commit is TIDEWATER_CORRECTION_DELAY_SECONDS old and no
 * backfill of that day waits or runs: late events arriving meanwhile join the next one.
 */
async function correction(_: JobPayloads['correction'], ctx: TaskContext) {
  const viewsDir = batchViewsDir(ctx.cfg.dataDir);
  const now = Date.now();
  const state = await scanCorrections({ lakeDir: lakeTableDir(ctx.cfg.dataDir), viewsDir, now });
  const watermark = readWatermark(viewsDir);
  const pending = pendingCorrections(
    viewsDir,
    state,
    watermark && { since: Date.parse(watermark.since), watermark: Date.parse(watermark.watermark) },
  );
  const due = pending.filter((d) => d.since <= now - ctx.cfg.correctionDelaySeconds * 1000);
  const enqueued: { day: string; job: string; created: boolean }[] = [];
  if (due.length > 0) {
    const orchestrator = createOrchestrator(ctx.cfg);
    try {
      const busy = new Set(
        (
          await Promise.all(
            (['waiting', 'delayed', 'active'] as const).map((status) =>
              orchestrator.listJobs({ queue: 'backfill', status, limit: 1000 }),
            ),
          )
        )
          .flat()
          .map((j) => (j.data as JobPayloads['backfill']).from),
      );
      for (const { day } of due) {
        if (busy.has(day)) continue;
        const to = dayOf(Date.parse(`${day}T00:00:00Z`) + DAY_MS);
        const { job, created } = await orchestrator.requestBackfill({
          from: day,
          to,
          asOf: state.scannedVersion,
        });
        enqueued.push({ day, job: job.id, created });
      }
    } finally {
      await orchestrator.close();
    }
  }
  return {
    scannedVersion: state.scannedVersion,
    pending: pending.map((d) => ({
      day: d.day,
      hours: d.hours.length,
      rows: d.hours.reduce((n, h) => n + h.rows, 0),
    })),
    enqueued,
  };
}

export const TASKS: { [Q in QueueName]: Task<Q> } = {
  recompute,
  backfill: (data, ctx) => runBackfill(ctx, data.from, data.to, data),
  ...MAINTENANCE_TASKS,
  'quarantine-replay': replay,
  'validation-report': validationReport,
  correction,
};

/** Queues whose jobs write batch views and the watermark: one at a time per process. */
export const BATCH_QUEUES: ReadonlySet<QueueName> = new Set(['recompute', 'backfill']);
