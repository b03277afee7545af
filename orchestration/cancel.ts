// Cancellation of a running job. bullmq cannot stop an active job from outside, so a cancel request
// is a Redis key that the worker polls while the job runs; it aborts the job's AbortSignal, which
// the work checks at its safe points (see workers.ts for which they are).
import type { Redis } from 'ioredis';
import { cancelKey } from './queues.ts';

const POLL_MS = 250;

/** Resolves after the first check, so a job cancelled while it waited never starts. */
export async function watchCancel(
  redis: Redis,
  prefix: string,
  id: string,
): Promise<{ signal: AbortSignal; stop(): void }> {
  const controller = new AbortController();
  const check = () =>
    redis.exists(cancelKey(prefix, id)).then(
      (n) => {
        if (n === 1) controller.abort(new Error('cancel requested'));
      },
      () => undefined, // a Redis hiccup only delays the cancel to the next poll
    );
  await check();
  const timer = setInterval(check, POLL_MS);
  return {
    signal: controller.signal,
    stop: () => clearInterval(timer),
  };
}
