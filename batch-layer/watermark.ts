// The batch watermark: the end of the last fully recomputed interval. Before it the batch view is
// authoritative, after it the speed view (Pinot's time boundary). Stored as `watermark.json` next to
// the batch-view manifest, written atomically, and moved only by advanceWatermark after a load:
// - forward only: re-running an older range (a backfill) never lowers it;
// - to min(to, now − allowedLateness), rounded down to the watermark interval (default an hour),
//   where `now` is when the lake snapshot was taken: data the snapshot could still be missing
//   (events within the allowed lateness) is not declared complete;
// - only over contiguous recomputed time: a run that starts after the watermark would leave a gap
//   [watermark, from) that nobody recomputed, so it does not advance it (the serving layer would
//   otherwise hide speed rows behind an empty batch range).
// `since` is the start of that contiguous span, so a reader knows where the batch view begins.
import { join } from 'node:path';
import { readJson, writeJsonAtomic } from './manifest.ts';
import { HOUR_MS, isoOf, type TimeInput, toMs } from './time.ts';

export interface BatchWatermark {
  /** End of the contiguous recomputed span (exclusive), ISO-8601. */
  watermark: string;
  /** Start of that span. */
  since: string;
  /** Batch view and lake versions of the run that last moved it. */
  batchVersion: number | null;
  lakeVersion: number | null;
  /**
   * The newest batch version loaded into ClickHouse by any run, moving the watermark or not (a
   * correction of a day below it does not): answer caches key on it.
   */
  loadedBatchVersion?: number | null;
  updatedAt: string;
}

export interface AdvanceOptions {
  /** The range the loaded batch recomputed, [from, to). */
  from: TimeInput;
  to: TimeInput;
  /** When the lake snapshot was taken (default: now). */
  now?: TimeInput;
  allowedLatenessMs: number;
  /** The watermark moves in these steps (default one hour). */
  intervalMs?: number;
  batchVersion?: number | null;
  lakeVersion?: number | null;
}

export interface AdvanceResult {
  state: BatchWatermark | undefined;
  advanced: boolean;
  /** Why it did not move, when it did not. */
  reason?: 'incomplete' | 'not-newer' | 'gap';
}

export const watermarkPath = (viewsDir: string): string => join(viewsDir, 'watermark.json');

export function readWatermark(viewsDir: string): BatchWatermark | undefined {
  return readJson<BatchWatermark>(watermarkPath(viewsDir));
}

/** Call only after the batch view of [from, to) was loaded. Never moves the watermark backwards. */
export function advanceWatermark(viewsDir: string, options: AdvanceOptions): AdvanceResult {
  const result = advance(viewsDir, options);
  const loaded = options.batchVersion ?? null;
  if (!result.state || loaded === null || (result.state.loadedBatchVersion ?? -1) >= loaded) return result;
  const state = { ...result.state, loadedBatchVersion: loaded, updatedAt: new Date().toISOString() };
  writeJsonAtomic(watermarkPath(viewsDir), state);
  return { ...result, state };
}

function advance(viewsDir: string, options: AdvanceOptions): AdvanceResult {
  const interval = options.intervalMs ?? HOUR_MS;
  if (!Number.isInteger(interval) || interval <= 0) throw new Error(`intervalMs must be a positive integer`);
  if (options.allowedLatenessMs < 0) throw new Error('allowedLatenessMs must not be negative');
  const from = toMs(options.from, 'from');
  const to = toMs(options.to, 'to');
  const complete = Math.min(to, toMs(options.now ?? Date.now(), 'now') - options.allowedLatenessMs);
  const candidate = Math.floor(complete / interval) * interval;
  const current = readWatermark(viewsDir);
  if (candidate <= from) return { state: current, advanced: false, reason: 'incomplete' };

  const write = (watermark: number, since: number): AdvanceResult => {
    const state: BatchWatermark = {
      watermark: isoOf(watermark),
      since: isoOf(since),
      batchVersion: options.batchVersion ?? null,
      lakeVersion: options.lakeVersion ?? null,
      updatedAt: new Date().toISOString(),
    };
    writeJsonAtomic(watermarkPath(viewsDir), state);
    return { state, advanced: true };
  };
  if (!current) return write(candidate, from);
  const watermark = toMs(current.watermark);
  const since = toMs(current.since);
  if (from > watermark) return { state: current, advanced: false, reason: 'gap' };
  if (candidate <= watermark) {
    // A backfill inside or before the span: the watermark stays; the span may start earlier.
    if (from < since && candidate >= since) {
      const state = { ...current, since: isoOf(from), updatedAt: new Date().toISOString() };
      writeJsonAtomic(watermarkPath(viewsDir), state);
      return { state, advanced: false, reason: 'not-newer' };
    }
    return { state: current, advanced: false, reason: 'not-newer' };
  }
  return write(candidate, Math.min(since, from));
}
