// What a queue's job is given and returns: the shape every task of tasks.ts and
// maintenance-tasks.ts has.
import type { ClickHouseClient } from '@clickhouse/client';
import type { Config } from '../config/index.ts';
import type { JobPayloads, QueueName } from './queues.ts';

export interface TaskContext {
  cfg: Config;
  clickhouse(): ClickHouseClient;
  signal: AbortSignal;
  progress(fraction: number, message: string): void;
}

export type Task<Q extends QueueName> = (data: JobPayloads[Q], ctx: TaskContext) => Promise<unknown>;
