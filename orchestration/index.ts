// Orchestration: bullmq queues and workers on Redis, node-cron schedules, job status.

export { jobProcesses } from './job-process.ts';
export { CANCELLED, type JobProgress, type JobStatus, type JobView } from './job-view.ts';
export {
  type BackfillRequest,
  createOrchestrator,
  dayArg,
  type JobFilter,
  type Orchestrator,
} from './orchestrator.ts';
export { isQueueName, type JobPayloads, type OrchestrationConfig, QUEUES, type QueueName } from './queues.ts';
export { type ScheduleName, type Scheduler, startScheduler } from './scheduler.ts';
export { startWorkers, type WorkerOptions, type Workers } from './workers.ts';
