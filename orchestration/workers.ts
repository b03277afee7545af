// Workers: one bullmq Worker per queue in this process, running TASKS; the maintenance queues'
// (maintenance-tasks.ts) in a child process at the jobs' lower priority, and the batch queues'
// DuckDB scans too (job-process.ts).
//
// Retries: a job that throws is retried with exponential backoff up to TIDEWATER_JOB_ATTEMPTS; a
// worker that dies mid-job stops renewing its lock, and after `lockDurationMs` another worker takes
// the job over from the start. Every task may run again from the start: a backfill replaces whole
// days (same lake version, same rows), maintenance commits are idempotent in effect.
//
// Cancellation: a cancel request (Orchestrator.cancelJob) aborts the job's signal within a quarter
// second. A job not started yet fails at once. A backfill or recompute stops at its next safe
// point: before each UTC day, and within a day before the day's new batch version commits. A day is
// thus either recomputed, loaded and under the watermark whole, or left untouched: the days a
// cancelled backfill had not finished keep their previous batch view (in ClickHouse and on disk),
// the ones it finished hold the recompute of the requested lake version, and the watermark moved
// only over finished days. Maintenance and replay jobs have no safe point: they run to the end.
// Either way a cancelled job fails with a reason starting with "cancelled" and is not retried.
import type { ClickHouseClient } from '@clickhouse/client';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import { createClickHouse } from '../clickhouse/index.ts';
import type { Config } from '../config/index.ts';
import { watchCancel } from './cancel.ts';
import { runInChild } from './job-process.ts';
import { CANCELLED } from './job-view.ts';
import { isMaintenanceQueue } from './maintenance-tasks.ts';
import { progressAt } from './progress.ts';
import { type JobPayloads, QUEUES, type QueueName, redisConnection } from './queues.ts';
import { BATCH_QUEUES, Cancelled, TASKS } from './tasks.ts';

export interface WorkerOptions {
  /** An open client; embedded chDB binds one data directory per process, so pass the process's own. */
  clickhouse?: ClickHouseClient;
  /** Jobs at a time per queue (default TIDEWATER_WORKER_CONCURRENCY). */
  concurrency?: number;
  /** Queues to serve (default all). */
  queues?: readonly QueueName[];
  /** How long a job stays locked to a silent worker before another takes it over (default 30 s). */
  lockDurationMs?: number;
}

export interface Workers {
  /** Waits for the jobs in progress to end. */
  close(): Promise<void>;
}

/** One batch-view job at a time in this process: the watermark is read, then rewritten. */
function mutex() {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(work: () => Promise<T>): Promise<T> => {
    const run = tail.then(work, work);
    tail = run.catch(() => undefined);
    return run;
  };
}

export async function startWorkers(cfg: Config, options: WorkerOptions = {}): Promise<Workers> {
  const redis = redisConnection(cfg.redisUrl);
  let own: ClickHouseClient | undefined;
  const clickhouse = () => {
    if (options.clickhouse) return options.clickhouse;
    own ??= createClickHouse({ url: cfg.clickhouseUrl, dataDir: cfg.dataDir });
    return own;
  };
  const exclusive = mutex();

  async function runJob<Q extends QueueName>(queue: Q, job: Job<JobPayloads[Q]>): Promise<unknown> {
    const started = Date.now();
    const watch = await watchCancel(redis, cfg.queuePrefix, job.id as string);
    try {
      if (watch.signal.aborted) throw new Cancelled('before it started');
      // Updates are not awaited by the task, but the last one is awaited before the job completes:
      // otherwise a job could read as completed with the progress of its next-to-last step.
      let progressed: Promise<unknown> = Promise.resolve();
      const progress = (fraction: number, message: string) => {
        progressed = job.updateProgress({ ...progressAt(fraction, message, started) }).catch(() => undefined);
      };
      progress(0, 'started');
      const task = TASKS[queue] as (
        data: JobPayloads[Q],
        ctx: Parameters<(typeof TASKS)[Q]>[1],
      ) => Promise<unknown>;
      const signal = watch.signal;
      const run = () =>
        isMaintenanceQueue(queue)
          ? runInChild({ kind: 'task', queue, data: job.data, cfg }, { nice: cfg.jobNice, signal, progress })
          : task(job.data, { cfg, clickhouse, signal, progress });
      const result = await (BATCH_QUEUES.has(queue) ? exclusive(run) : run());
      await progressed;
      return result;
    } catch (error) {
      if (error instanceof Cancelled) throw new UnrecoverableError(`${CANCELLED}: ${error.message}`);
      throw error;
    } finally {
      watch.stop();
    }
  }

  const workers = (options.queues ?? QUEUES).map(
    (queue) =>
      new Worker(queue, (job: Job) => runJob(queue, job), {
        connection: redis,
        prefix: cfg.queuePrefix,
        concurrency: options.concurrency ?? cfg.workerConcurrency,
        lockDuration: options.lockDurationMs ?? 30_000,
        stalledInterval: Math.max(1_000, Math.floor((options.lockDurationMs ?? 30_000) / 2)),
      }),
  );
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  return {
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await own?.close();
      redis.disconnect();
    },
  };
}
