import type { Writable } from 'node:stream';

/** A progress line at most every two seconds, and a summary at the end. */
export function progress(what: string, out: Writable, everyMs = 2_000) {
  const started = performance.now();
  let count = 0;
  let shownAt = started;
  const rate = () => Math.round(count / Math.max((performance.now() - started) / 1000, 1e-3));
  return {
    tick(n = 1): void {
      count += n;
      const now = performance.now();
      if (now - shownAt >= everyMs) {
        shownAt = now;
        out.write(`${what} ${count.toLocaleString('en')} (${rate().toLocaleString('en')}/s)\n`);
      }
    },
    done(): void {
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      out.write(`${what} ${count.toLocaleString('en')} in ${seconds} s (${rate().toLocaleString('en')}/s)\n`);
    },
  };
}
