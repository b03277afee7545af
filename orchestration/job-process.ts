// A job's engine work (DuckDB's scans and Parquet writes: compaction, vacuum, checkpoints, the batch
// recompute) runs in a child process at a lower CPU priority (TIDEWATER_JOB_NICE). In the platform's
// own process a compaction took a core from the lake writer for up to a minute, and on 2 cores the
// lake writer fell behind at every job and did not catch up between them (docs/soak.md). A child at
// a lower priority gets what ingestion leaves, so the jobs rather than ingestion wait when the
// machine is short of CPU. What the engine allocates goes back to the system when the child exits;
// while it runs, a child holds ~75 MB of its own besides (Node, tsx's loader, the modules, DuckDB),
// and cannot reuse the free memory the platform's heap keeps (docs/soak.md, "The jobs in a child
// process").
//
// The child runs the same code (job-child.ts): a maintenance task (maintenance-tasks.ts, part of
// TASKS), or the recompute step of a batch job, whose load into ClickHouse stays in the platform
// (embedded chDB binds its data directory to one process). Abort and progress cross over IPC, so a
// job in a child stops at the same safe points and reports the same progress as in the platform's
// process.
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { getPriority, setPriority } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { RecomputeOptions } from '../batch-layer/index.ts';
import type { Config } from '../config/index.ts';
import type { MaintenanceQueue } from './maintenance-tasks.ts';

export type ChildWork =
  | { kind: 'task'; queue: MaintenanceQueue; data: unknown; cfg: Config }
  | { kind: 'recompute'; options: Omit<RecomputeOptions, 'signal'> };

export type ToChild = { type: 'run'; work: ChildWork } | { type: 'abort' };
export type FromChild =
  | { type: 'progress'; fraction: number; message: string }
  | { type: 'done'; result: unknown }
  | { type: 'failed'; message: string };

export interface ChildOptions {
  /** Added to the platform's nice value (0-19). */
  nice: number;
  signal?: AbortSignal;
  progress?: (fraction: number, message: string) => void;
}

// The repository runs TypeScript through tsx's loader (bin/tidewater.js); the child loads it the
// same way, by its resolved path, so it does not depend on the working directory.
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const ENTRY = fileURLToPath(new URL('./job-child.ts', import.meta.url));

const running = new Set<number>();
/** The pids of this process's job children running now (for what they use: bench/soak.ts). */
export const jobProcesses = (): number[] => [...running];

/** Runs `work` in a child process; its result, or its error's message as an Error. */
export function runInChild(work: ChildWork, options: ChildOptions): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = fork(ENTRY, [], {
      execArgv: ['--import', TSX_LOADER],
      // Structured clone: a recompute's input holds a Set of hours.
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let settled = false;
    const settle = (end: () => void) => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener('abort', abort);
      end();
    };
    const abort = () => {
      if (child.connected) child.send({ type: 'abort' } satisfies ToChild);
    };
    const pid = child.pid;
    if (pid !== undefined) {
      running.add(pid);
      try {
        setPriority(pid, Math.min(19, getPriority() + options.nice));
      } catch {
        // Gone already (ESRCH): its 'exit' below says why.
      }
    }
    child.on('message', (message: FromChild) => {
      if (message.type === 'progress') options.progress?.(message.fraction, message.message);
      else if (message.type === 'done') settle(() => resolve(message.result));
      else settle(() => reject(new Error(message.message)));
    });
    child.on('error', (error) => settle(() => reject(error)));
    child.on('exit', (code, signal) => {
      if (pid !== undefined) running.delete(pid);
      settle(() =>
        reject(
          new Error(
            `the job's child process exited before finishing (${signal ? `signal ${signal}` : `code ${code}`})`,
          ),
        ),
      );
    });
    child.send({ type: 'run', work } satisfies ToChild);
    if (options.signal?.aborted) abort();
    else options.signal?.addEventListener('abort', abort, { once: true });
  });
}
