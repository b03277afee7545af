// The client side of the queues: what the serving layer and the CLI call to request, inspect and
// cancel jobs. Workers (workers.ts) run them.
//
// Idempotency: a job's id is derived from what it does. A backfill of days [from, to) reads a fixed
// lake version (the one named, or the latest when it was requested), and its id is
// `backfill.<from>.<to>.v<version>`: the same range and version is one job. Requesting it again
//   - while it waits or runs returns that job (created: false);
//   - after it failed or was cancelled runs it again under the same id (created: true);
//   - after it completed returns the finished job (created: false): the view it loaded is already
//     the recompute of that snapshot; pass `rerun: true` to run it again anyway (created: true).
// New lake commits give a new version, hence a new job. bullmq's add is atomic per id and a re-run
// moves the finished job back to waiting atomically, so concurrent requests still make one run.
import { randomUUID } from 'node:crypto';
import { type Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { lakeTableDir, listLog } from '../lake/index.ts';
import { CANCELLED, type JobStatus, type JobView, viewOf } from './job-view.ts';
import {
  cancelKey,
  type JobPayloads,
  jobIdOf,
  jobOptions,
  type OrchestrationConfig,
  QUEUES,
  type QueueName,
  queueOfId,
  redisConnection,
} from './queues.ts';

export interface BackfillRequest {
  /** Whole UTC days: YYYY-MM-DD (or midnight ISO); `to` is exclusive. */
  from: string;
  to: string;
  /** Lake version to read; the latest at request time when absent. */
  asOf?: number;
  /** Run again even if this range and version already completed. */
  rerun?: boolean;
  /** Scan every hour of each day, not only those changed since its batch view (its own job). */
  full?: boolean;
}

export interface JobFilter {
  queue?: QueueName;
  status?: JobStatus;
  /** Newest first, at most this many (default 50). */
  limit?: number;
}

export interface Orchestrator {
  requestBackfill(request: BackfillRequest): Promise<{ job: JobView; created: boolean }>;
  /** Enqueues a job of any queue; `key` makes it idempotent like a backfill (default: a fresh id). */
  enqueue<Q extends QueueName>(
    queue: Q,
    data: JobPayloads[Q],
    key?: string,
  ): Promise<{ job: JobView; created: boolean }>;
  getJob(id: string): Promise<JobView | undefined>;
  /** Asks the job to stop; see workers.ts for when it does. Undefined for an unknown id. */
  cancelJob(id: string): Promise<JobView | undefined>;
  listJobs(filter?: JobFilter): Promise<JobView[]>;
  /** Workers currently connected to a queue (any process). */
  workerCount(queue: QueueName): Promise<number>;
  close(): Promise<void>;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** YYYY-MM-DD of a whole UTC day given as a date or a midnight timestamp. */
export function dayArg(value: string, what: string): string {
  const day = DAY.test(value) ? value : value.replace(/T00:00(:00(\.000)?)?(Z|\+00:00)$/, '');
  if (!DAY.test(day) || Number.isNaN(Date.parse(`${day}T00:00:00Z`)))
    throw new Error(`${what} must be a whole UTC day (YYYY-MM-DD): ${value}`);
  return day;
}

const BULL_STATES: Record<Exclude<JobStatus, 'unknown'>, string[]> = {
  waiting: ['waiting', 'prioritized', 'waiting-children'],
  delayed: ['delayed'],
  active: ['active'],
  completed: ['completed'],
  failed: ['failed'],
  cancelled: ['failed'],
};

export function createOrchestrator(cfg: OrchestrationConfig): Orchestrator {
  const redis: Redis = redisConnection(cfg.redisUrl);
  const queues = new Map<QueueName, Queue>();
  const queue = (name: QueueName): Queue => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: redis, prefix: cfg.queuePrefix, defaultJobOptions: jobOptions(cfg) });
      queues.set(name, q);
    }
    return q;
  };
  const cancelRequested = async (id: string) => (await redis.exists(cancelKey(cfg.queuePrefix, id))) === 1;
  const view = async (job: Job, name: QueueName) => {
    const state = await job.getState();
    // `job` may have been read just before it finished: its state then says finished while its
    // result and last progress are missing, so read it again.
    const stale = (state === 'completed' || state === 'failed') && !job.finishedOn;
    const current = (stale && (await queue(name).getJob(job.id as string))) || job;
    return viewOf(current, name, state, await cancelRequested(job.id as string));
  };

  async function find(id: string): Promise<{ job: Job; name: QueueName } | undefined> {
    const name = queueOfId(id);
    const job = name && (await queue(name).getJob(id));
    return name && job ? { job, name } : undefined;
  }

  /** Adds the job under `id`, or re-runs a finished one as the rule above says. */
  async function add<Q extends QueueName>(name: Q, id: string, data: JobPayloads[Q], rerun: boolean) {
    const existing = await queue(name).getJob(id);
    if (existing) {
      const state = await existing.getState();
      const again = state === 'failed' || (state === 'completed' && rerun);
      if (!again) return { job: await view(existing, name), created: false };
      await redis.del(cancelKey(cfg.queuePrefix, id));
      try {
        await existing.retry(state, { resetAttemptsMade: true, resetAttemptsStarted: true });
      } catch {
        // Another request re-ran it first: that run is this request's too.
        const current = await queue(name).getJob(id);
        if (current) return { job: await view(current, name), created: false };
        throw new Error(`job ${id} vanished while being re-run`);
      }
      return { job: await view((await queue(name).getJob(id)) ?? existing, name), created: true };
    }
    // A duplicate add is a no-op in Redis that still returns a Job built from our arguments, so
    // a nonce tells which request created the stored job.
    const nonce = randomUUID();
    await queue(name).add(name, { ...data, requestId: nonce }, { jobId: id });
    const stored = await queue(name).getJob(id);
    if (!stored) throw new Error(`job ${id} vanished right after it was added`);
    return { job: await view(stored, name), created: stored.data.requestId === nonce };
  }

  return {
    async requestBackfill({ from, to, asOf, rerun = false, full = false }) {
      const first = dayArg(from, 'from');
      const end = dayArg(to, 'to');
      if (end <= first) throw new Error(`empty range ${first} .. ${end}`);
      const versions = (await listLog(lakeTableDir(cfg.dataDir))).versions;
      const latest = versions.at(-1);
      if (latest === undefined) throw new Error('the lake has no commits yet');
      if (asOf !== undefined && !versions.includes(asOf))
        throw new Error(`lake version ${asOf} does not exist (latest is ${latest})`);
      const version = asOf ?? latest;
      const id = jobIdOf('backfill', `${first}.${end}.v${version}${full ? '.full' : ''}`);
      const data = { from: first, to: end, asOfVersion: version, ...(full ? { full } : {}) };
      return add('backfill', id, data, rerun);
    },

    async enqueue(name, data, key = randomUUID()) {
      return add(name, jobIdOf(name, key), data, false);
    },

    async getJob(id) {
      const found = await find(id);
      return found && view(found.job, found.name);
    },

    async cancelJob(id) {
      const found = await find(id);
      if (!found) return undefined;
      const state = await found.job.getState();
      if (state !== 'completed' && state !== 'failed')
        await redis.set(cancelKey(cfg.queuePrefix, id), CANCELLED, 'EX', 30 * 24 * 3600);
      return view(found.job, found.name);
    },

    async listJobs({ queue: only, status, limit = 50 } = {}) {
      const types = status === undefined || status === 'unknown' ? undefined : BULL_STATES[status];
      const names = only ? [only] : [...QUEUES];
      const jobs = (
        await Promise.all(
          names.map(async (name) => {
            const found = await queue(name).getJobs(
              (types ?? ['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed']) as never,
              0,
              limit - 1,
              false,
            );
            return Promise.all(found.filter((j): j is Job => j !== undefined).map((j) => view(j, name)));
          }),
        )
      ).flat();
      return jobs
        .filter((j) => status === undefined || j.status === status)
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
        .slice(0, limit);
    },

    async workerCount(name) {
      return queue(name).getWorkersCount();
    },

    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
      redis.disconnect();
    },
  };
}
