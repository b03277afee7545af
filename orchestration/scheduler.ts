// Schedules (node-cron, UTC): each tick enqueues one job. Several scheduler instances may run (one
// per platform process); each enqueues every tick under a job id derived from the tick, and bullmq
// stores the first and ignores the rest (finished jobs are kept for days, far longer than instances'
// clocks differ). There is no separate claim to take first: an instance that dies before its add
// leaves the tick to the others rather than taking it with it.

import cron, { type ScheduledTask } from 'node-cron';
import type { Config } from '../config/index.ts';
import { createOrchestrator } from './orchestrator.ts';
import type { JobPayloads, QueueName } from './queues.ts';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/**
 * How late a tick may fire. node-cron drops a tick more than a second late, with a warning, and a
 * busy event loop (the soak's, at 50,000 events/s) holds it that long: a compaction or the
 * hourly recompute was then skipped until its next time. Enqueuing is idempotent per tick, so a
 * late tick fires late instead; one later than its schedule's next tick is still superseded by it.
 */
const LATE_TICK_TOLERANCE_MS = Number.MAX_SAFE_INTEGER;

export type ScheduleName = 'recompute' | 'optimize' | 'vacuum' | 'validation-report' | 'correction';

interface Schedule {
  cron: string;
  queue: QueueName;
  /** The job of the tick at `at`. */
  data(at: number): JobPayloads[QueueName];
}

function schedules(cfg: Config): Record<ScheduleName, Schedule> {
  const lateness = cfg.allowedLatenessMinutes * 60_000;
  return {
    // The hours closed by the tick: events within the allowed lateness may still come in after it.
    recompute: {
      cron: cfg.recomputeCron,
      queue: 'recompute',
      data: (at) => ({ until: new Date(Math.floor((at - lateness) / HOUR_MS) * HOUR_MS).toISOString() }),
    },
    optimize: { cron: cfg.optimizeCron, queue: 'optimize', data: () => ({}) },
    correction: { cron: cfg.correctionCron, queue: 'correction', data: () => ({}) },
    vacuum: {
      cron: cfg.vacuumCron,
      queue: 'vacuum',
      data: () => ({
        retentionHours: cfg.vacuumRetentionHours,
        orphanMinutes: cfg.vacuumOrphanMinutes,
        logRetentionHours: cfg.lakeLogRetentionHours,
      }),
    },
    // The day before the tick's.
    'validation-report': {
      cron: cfg.reportCron,
      queue: 'validation-report',
      data: (at) => ({ day: new Date(Math.floor(at / DAY_MS) * DAY_MS - DAY_MS).toISOString().slice(0, 10) }),
    },
  };
}

export interface Scheduler {
  /** Enqueues the schedule's job for the tick at `at` unless another instance did; true if this one did. */
  tick(name: ScheduleName, at: Date): Promise<boolean>;
  /** Ticks this instance enqueued, by schedule. */
  readonly enqueued: Readonly<Record<ScheduleName, number>>;
  stop(): Promise<void>;
}

export function startScheduler(cfg: Config, onError: (error: Error) => void = console.error): Scheduler {
  const orchestrator = createOrchestrator(cfg);
  const table = schedules(cfg);
  const enqueued: Record<ScheduleName, number> = {
    recompute: 0,
    optimize: 0,
    vacuum: 0,
    'validation-report': 0,
    correction: 0,
  };

  async function tick(name: ScheduleName, at: Date): Promise<boolean> {
    const schedule = table[name];
    // Cron fires on whole seconds; instances firing a few ms apart must name the same tick.
    const ms = Math.floor(at.getTime() / 1000) * 1000;
    const stamp = new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
    const { created } = await orchestrator.enqueue(schedule.queue, schedule.data(ms), `${name}.${stamp}`);
    if (created) enqueued[name]++;
    return created;
  }

  // A tick under way when stop() is called finishes (and is counted) before the connection closes.
  const running = new Set<Promise<unknown>>();
  function fire(name: ScheduleName, at: Date): void {
    const done = tick(name, at).then(() => undefined, onError);
    running.add(done);
    void done.finally(() => running.delete(done));
  }

  const tasks: ScheduledTask[] = [];
  for (const [name, schedule] of Object.entries(table) as [ScheduleName, Schedule][]) {
    if (schedule.cron === 'off') continue;
    tasks.push(
      cron.schedule(schedule.cron, (context) => fire(name, context.date), {
        name: `tidewater-${name}`,
        timezone: 'Etc/UTC',
        missedExecutionTolerance: LATE_TICK_TOLERANCE_MS,
      }),
    );
  }

  return {
    tick,
    enqueued,
    async stop() {
      for (const task of tasks) await task.destroy();
      await Promise.all(running);
      await orchestrator.close();
    },
  };
}
