// Progress with an ETA from the rate so far, as workers store it on a job.
import type { JobProgress } from './job-view.ts';

export function progressAt(
  fraction: number,
  message: string,
  startedMs: number,
  nowMs = Date.now(),
): JobProgress {
  const elapsed = nowMs - startedMs;
  const eta = fraction > 0 && fraction < 1 ? new Date(nowMs + (elapsed * (1 - fraction)) / fraction) : null;
  return { fraction, message, eta: eta?.toISOString() ?? null };
}
