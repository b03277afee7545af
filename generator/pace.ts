import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Yields `items` in chunks at `ratePerSecond` of wall-clock time (as fast as the consumer takes them
 * when it is undefined), until they run out or `signal` aborts. Chunks keep the per-item cost of
 * async iteration away from high rates; pacing is by catch-up after short sleeps, so the achieved
 * rate stays accurate however small the sleep granularity.
 */
export async function* paced<T>(
  items: Iterable<T>,
  ratePerSecond: number | undefined,
  signal?: AbortSignal,
  maxChunk = 1_000,
): AsyncGenerator<T[]> {
  const started = performance.now();
  const iterator = items[Symbol.iterator]();
  let released = 0;
  while (!signal?.aborted) {
    let allowed = maxChunk;
    if (ratePerSecond !== undefined) {
      allowed = Math.min(
        maxChunk,
        Math.floor(((performance.now() - started) / 1000) * ratePerSecond) - released,
      );
      if (allowed <= 0) {
        await sleep(Math.max(1, Math.min(50, 1000 / ratePerSecond)));
        continue;
      }
    }
    const chunk: T[] = [];
    let next = iterator.next();
    while (!next.done) {
      chunk.push(next.value);
      if (chunk.length >= allowed) break;
      next = iterator.next();
    }
    released += chunk.length;
    if (chunk.length > 0) yield chunk;
    if (next.done) return;
  }
}
