// `tidewater worker` runs the queues' workers; `tidewater jobs` lists jobs; the helpers let other
// commands go through a queue when a worker serves it and wait for the job with a progress bar.
import { type Command, InvalidArgumentError } from 'commander';
import { config } from '../config/index.ts';
import type { JobStatus, JobView, Orchestrator } from '../orchestration/index.ts';
import { isQueueName, QUEUES, type QueueName } from '../orchestration/queues.ts';

const STATUSES: readonly JobStatus[] = ['waiting', 'delayed', 'active', 'completed', 'failed', 'cancelled'];
const POLL_MS = 500;

export const positiveInt = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
};

export async function withOrchestrator<T>(use: (o: Orchestrator) => Promise<T>): Promise<T> {
  const { createOrchestrator } = await import('../orchestration/index.ts');
  const orchestrator = createOrchestrator(config());
  try {
    return await use(orchestrator);
  } finally {
    await orchestrator.close();
  }
}

function bar(job: JobView): string {
  const fraction = job.progress?.fraction ?? 0;
  const width = 30;
  const filled = Math.round(fraction * width);
  const eta = job.progress?.eta ? `, ETA ${job.progress.eta.slice(11, 19)} UTC` : '';
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${job.status}: ${job.progress?.message ?? ''}${eta}`;
}

/** Polls the job until it ends, drawing a progress bar on stderr; resolves with the final view. */
export async function waitForJob(orchestrator: Orchestrator, id: string): Promise<JobView> {
  const tty = process.stderr.isTTY;
  let shown = '';
  for (;;) {
    const job = await orchestrator.getJob(id);
    if (!job) throw new Error(`job ${id} is gone (removed while waiting)`);
    const line = bar(job);
    if (line !== shown) {
      process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
      shown = line;
    }
    if (job.status === 'completed' || job.status === 'failed' || job.status === 'cancelled') {
      if (tty) process.stderr.write('\n');
      return job;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** The end of a waited-for job: its result on stdout, or its failure as the command's error. */
export function finish(job: JobView): void {
  if (job.status !== 'completed') throw new Error(`job ${job.id} ${job.status}: ${job.failure ?? ''}`);
  console.log(JSON.stringify(job.result, null, 2));
}

const summary = (j: JobView) =>
  [
    j.createdAt,
    j.id,
    j.status.padEnd(9),
    `${((j.progress?.fraction ?? 0) * 100).toFixed(0)}%`.padStart(4),
    `attempts ${j.attempts.made}/${j.attempts.max}`,
    j.failure ?? j.progress?.message ?? '',
  ].join('  ');

export function registerJobs(program: Command): void {
  program
    .command('worker')
    .description('run queue workers (and with --schedule the cron schedules) until Ctrl-C')
    .option('--queues <names>', `comma-separated subset of ${QUEUES.join(', ')}`)
    .option('--schedule', 'also run the schedules (safe with several instances: one enqueues each tick)')
    .option(
      '--lock-duration <ms>',
      'how long a silent worker keeps a job before another takes it over',
      positiveInt,
    )
    .addHelpText(
      'after',
      '\nWith embedded ClickHouse (no CLICKHOUSE_URL) recompute and backfill jobs need this process to own\nthe data directory: run them in `npm start` instead, or point CLICKHOUSE_URL at a server.',
    )
    .action(async (flags: { queues?: string; schedule?: boolean; lockDuration?: number }) => {
      const cfg = config();
      const queues = flags.queues?.split(',').map((q) => q.trim());
      const unknown = queues?.filter((q) => !isQueueName(q)) ?? [];
      if (unknown.length > 0) throw new Error(`unknown queue(s): ${unknown.join(', ')}`);
      const { startScheduler, startWorkers } = await import('../orchestration/index.ts');
      const workers = await startWorkers(cfg, {
        queues: queues as QueueName[] | undefined,
        lockDurationMs: flags.lockDuration,
      });
      const scheduler = flags.schedule ? startScheduler(cfg) : undefined;
      console.log(
        `workers on ${queues?.join(', ') ?? 'every queue'} (Redis ${cfg.redisUrl}, prefix ${cfg.queuePrefix})${scheduler ? ', schedules on' : ''}. Ctrl-C stops.`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await scheduler?.stop();
      await workers.close();
    });

  const jobs = program
    .command('jobs')
    .description('list jobs, newest first; `jobs show|cancel <id>`')
    .option('--queue <name>', `one of ${QUEUES.join(', ')}`)
    .option('--state <state>', `one of ${STATUSES.join(', ')}`)
    .option('--limit <n>', 'at most this many', positiveInt, 50)
    .option('--json', 'print JSON')
    .action((flags: { queue?: string; state?: string; limit: number; json?: boolean }) =>
      withOrchestrator(async (o) => {
        if (flags.queue !== undefined && !isQueueName(flags.queue))
          throw new Error(`unknown queue ${flags.queue}`);
        if (flags.state !== undefined && !STATUSES.includes(flags.state as JobStatus))
          throw new Error(`unknown state ${flags.state}`);
        const list = await o.listJobs({
          queue: flags.queue as QueueName | undefined,
          status: flags.state as JobStatus | undefined,
          limit: flags.limit,
        });
        if (flags.json) console.log(JSON.stringify(list, null, 2));
        else for (const j of list) console.log(summary(j));
      }),
    );
  jobs
    .command('show')
    .argument('<id>')
    .description('print a job as JSON')
    .action((id: string) =>
      withOrchestrator(async (o) => {
        const job = await o.getJob(id);
        if (!job) throw new Error(`no job ${id}`);
        console.log(JSON.stringify(job, null, 2));
      }),
    );
  jobs
    .command('cancel')
    .argument('<id>')
    .description('ask a job to stop at its next safe point (see README, Orchestration)')
    .action((id: string) =>
      withOrchestrator(async (o) => {
        const job = await o.cancelJob(id);
        if (!job) throw new Error(`no job ${id}`);
        console.log(summary(job));
      }),
    );
}
