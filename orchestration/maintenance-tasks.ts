// The maintenance queues' tasks, which run whole in a job's child process (job-process.ts). A module
// of their own, so that the child loads the lake and the batch layer, not the orchestrator's queue
// client or the quality layer's replay: a child's own memory (anonymous RSS) once it has loaded its
// modules is 73-77 MB against 93-98 when it loaded all of tasks.ts (3 starts each).
import { batchViewsDir, vacuumBatchViews } from '../batch-layer/index.ts';
import { eachLakeTable } from '../lake/index.ts';
import type { QueueName } from './queues.ts';
import type { Task } from './task.ts';

export const MAINTENANCE_TASKS = {
  optimize: (_, ctx) => eachLakeTable(ctx.cfg.dataDir, (t) => t.optimize()),
  vacuum: async (data, ctx) => ({
    ...(await eachLakeTable(ctx.cfg.dataDir, async (t) => {
      const { deleted, logFilesDeleted } = await t.vacuum(data);
      return { deleted: deleted.length, logFilesDeleted };
    })),
    // Superseded batch versions are kept as long as the lake's files: both are what a rollback needs.
    batchViews: {
      versionsDeleted: vacuumBatchViews(batchViewsDir(ctx.cfg.dataDir), data).length,
    },
  }),
  checkpoint: (_, ctx) => eachLakeTable(ctx.cfg.dataDir, (t) => t.checkpoint()),
} satisfies { [Q in 'optimize' | 'vacuum' | 'checkpoint']: Task<Q> };

export type MaintenanceQueue = keyof typeof MAINTENANCE_TASKS;

/** Whether `queue`'s whole task runs in a child process at the jobs' priority. */
export const isMaintenanceQueue = (queue: QueueName): queue is MaintenanceQueue =>
  Object.hasOwn(MAINTENANCE_TASKS, queue);
