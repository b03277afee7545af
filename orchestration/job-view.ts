// Jobs as plain JSON for the API and the CLI: bullmq's Job object carries connections and methods.
import type { Job } from 'bullmq';
import type { QueueName } from './queues.ts';

export type JobStatus = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed' | 'cancelled' | 'unknown';

/** What a worker reports while a job runs. */
export interface JobProgress {
  /** 0..1 */
  fraction: number;
  message: string;
  /** Expected end from the rate so far (ISO), null until a first step finished. */
  eta: string | null;
}

export interface JobView {
  id: string;
  queue: QueueName;
  status: JobStatus;
  data: unknown;
  progress: JobProgress | null;
  /** Attempts started (a worker killed mid-job counts too) and allowed. */
  attempts: { made: number; max: number };
  cancelRequested: boolean;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  result: unknown;
  failure: string | null;
}

/** A cancelled job fails with a message starting with this, and is never retried. */
export const CANCELLED = 'cancelled';

const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);

function statusOf(state: string, failedReason: string | undefined): JobStatus {
  if (state === 'failed' && failedReason?.startsWith(CANCELLED)) return 'cancelled';
  if (state === 'prioritized' || state === 'waiting-children' || state === 'wait') return 'waiting';
  if (['waiting', 'delayed', 'active', 'completed', 'failed'].includes(state)) return state as JobStatus;
  return 'unknown';
}

function progressOf(progress: unknown): JobProgress | null {
  if (progress === null || typeof progress !== 'object') return null;
  const p = progress as Partial<JobProgress>;
  return typeof p.fraction === 'number'
    ? { fraction: p.fraction, message: String(p.message ?? ''), eta: p.eta ?? null }
    : null;
}

/** `state` as bullmq's getState gave it, read after `job` (see the orchestrator's `view`). */
export function viewOf(job: Job, queue: QueueName, state: string, cancelRequested: boolean): JobView {
  return {
    id: job.id as string,
    queue,
    status: statusOf(state, job.failedReason),
    data: job.data,
    progress: progressOf(job.progress),
    attempts: { made: job.attemptsStarted ?? job.attemptsMade, max: job.opts.attempts ?? 1 },
    cancelRequested,
    createdAt: new Date(job.timestamp).toISOString(),
    startedAt: iso(job.processedOn),
    finishedAt: iso(job.finishedOn),
    result: job.returnvalue ?? null,
    failure: job.failedReason || null,
  };
}
