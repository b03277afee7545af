// The queues, what each job carries, and the job options every job shares. A job id starts with
// its queue's name and a dot, so that one id names one job across queues.
import { Redis } from 'ioredis';
import type { Config } from '../config/index.ts';
import type { QuarantineFilter } from '../quality/index.ts';

export const QUEUES = [
  'recompute',
  'backfill',
  'optimize',
  'vacuum',
  'checkpoint',
  'quarantine-replay',
  'validation-report',
  'correction',
] as const;
export type QueueName = (typeof QUEUES)[number];

export interface JobPayloads {
  /** The closed hours up to `until` (exclusive, ISO, whole hour): recomputed at the lake's latest version. */
  recompute: { until: string };
  /** Whole UTC days [from, to) (YYYY-MM-DD) at a fixed lake version, resolved when requested. */
  backfill: { from: string; to: string; asOfVersion: number; full?: boolean };
  optimize: Record<string, never>;
  /** Files no version ever referenced go after orphanMinutes, the others after retentionHours. */
  vacuum: { retentionHours: number; orphanMinutes?: number; logRetentionHours?: number };
  checkpoint: Record<string, never>;
  'quarantine-replay': { filter: QuarantineFilter; dryRun: boolean };
  /** The UTC day (YYYY-MM-DD) to report on. */
  'validation-report': { day: string };
  /** Scans the lake for late events below the watermark and enqueues a backfill per affected day. */
  correction: Record<string, never>;
}

export type OrchestrationConfig = Pick<
  Config,
  | 'redisUrl'
  | 'queuePrefix'
  | 'dataDir'
  | 'jobAttempts'
  | 'workerConcurrency'
  | 'allowedLatenessMinutes'
  | 'vacuumRetentionHours'
  | 'vacuumOrphanMinutes'
  | 'lakeLogRetentionHours'
  | 'correctionDelaySeconds'
>;

export function isQueueName(name: string): name is QueueName {
  return (QUEUES as readonly string[]).includes(name);
}

/** The queue a job id belongs to (ids are `<queue>.<key>`); undefined for a foreign id. */
export function queueOfId(id: string): QueueName | undefined {
  const name = id.slice(0, id.indexOf('.'));
  return isQueueName(name) ? name : undefined;
}

/** bullmq refuses ':' in custom ids. */
export const jobIdOf = (queue: QueueName, key: string): string => `${queue}.${key.replaceAll(':', '')}`;

/** Retries with backoff; finished jobs kept a week (failed ones a month) for inspection. */
export const jobOptions = (cfg: Pick<OrchestrationConfig, 'jobAttempts'>) => ({
  attempts: cfg.jobAttempts,
  backoff: { type: 'exponential', delay: 10_000 },
  removeOnComplete: { age: 7 * 24 * 3600, count: 1000 },
  removeOnFail: { age: 30 * 24 * 3600, count: 1000 },
});

/** bullmq workers block on Redis, so their connection must not give up on a request. */
export const redisConnection = (url: string): Redis => new Redis(url, { maxRetriesPerRequest: null });

/** Redis keys of our own, beside bullmq's `<prefix>:<queue>:...` keys. */
export const cancelKey = (prefix: string, id: string) => `${prefix}:cancel:${id}`;
