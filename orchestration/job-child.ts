// The child process of job-process.ts: runs one piece of a job's work and exits.
import { recomputeMetrics } from '../batch-layer/index.ts';
import type { FromChild, ToChild } from './job-process.ts';
import { MAINTENANCE_TASKS } from './maintenance-tasks.ts';

const controller = new AbortController();
const send = (message: FromChild) =>
  new Promise<void>((resolve) => (process.send ? process.send(message, () => resolve()) : resolve()));

// The platform is gone (it exited or was killed): the job is abandoned at once, as it would be
// in-process. Not process.exit: that waits for the engine's query on libuv's pool to end, which a
// compaction's COPY can take minutes to do; the files it leaves uncommitted are vacuum's to remove.
process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));

process.on('message', async (message: ToChild) => {
  if (message.type === 'abort') {
    controller.abort(new Error('cancel requested'));
    return;
  }
  const { work } = message;
  const signal = controller.signal;
  try {
    const result =
      work.kind === 'recompute'
        ? await recomputeMetrics({ ...work.options, signal })
        : await MAINTENANCE_TASKS[work.queue](work.data as never, {
            cfg: work.cfg,
            signal,
            progress: (fraction, text) => void send({ type: 'progress', fraction, message: text }),
            clickhouse: () => {
              throw new Error(`the ${work.queue} job runs in a child process, without ClickHouse`);
            },
          });
    await send({ type: 'done', result });
  } catch (error) {
    if (!signal.aborted) console.error(error);
    await send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  }
  process.exit(0);
});
