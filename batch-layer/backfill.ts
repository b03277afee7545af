// Backfill: recompute [from, to) from the lake as of its latest or a named version, one UTC day at
// a time so that progress is visible and a failure keeps the days already replaced. Re-running the
// same range and version is harmless: each day's partition is replaced whole, never appended to.
// An aborted `signal` stops it between days, or within a day before its batch version commits: each
// day is either replaced and loaded whole or left as it was (with its previous batch view).
// A day is built on its previous batch view unless `full`: only the hours whose lake data changed
// since the lake version that view read are scanned again (the hourly recompute scans the hour just
// closed, not the day so far; a correction the hours its late events fell in).
import type { ClickHouseClient } from '@clickhouse/client';
import type { Catalog } from '../contracts/catalog.ts';
import { EVENTS_SCHEMA, openTable } from '../lake/index.ts';
import { hoursChangedBetween } from './lake-hours.ts';
import { dayManifest } from './manifest.ts';
import type { RecomputeOptions, RecomputeResult } from './recompute.ts';
import { type BatchRunResult, runBatch } from './run.ts';
import { alignedRange, DAY_MS, dayOf, HOUR_MS, type TimeInput } from './time.ts';

export interface BackfillOptions {
  client: ClickHouseClient;
  lakeDir: string;
  viewsDir: string;
  /** Whole UTC days. */
  from: TimeInput;
  to: TimeInput;
  /** Lake version to read; the latest when absent. */
  asOfVersion?: number;
  allowedLatenessMs: number;
  catalog?: Catalog;
  onProgress?: (progress: BackfillProgress) => void;
  signal?: AbortSignal;
  /** Threads of each day's recompute DuckDB and of the lake table's (default: DuckDB's, one per core). */
  threads?: number;
  /** Scan every hour of each day, not only those changed since its previous batch view. */
  full?: boolean;
  /** Runs each day's recompute step (run.ts). */
  recompute?: (options: RecomputeOptions) => Promise<RecomputeResult>;
}

export interface BackfillProgress {
  day: string;
  done: number;
  total: number;
  rows: number;
  /** Hours of the day scanned: 24 unless it was built on its previous batch view. */
  hoursScanned: number;
  /** Batch-view files its load into ClickHouse read (only the scanned hours' when it held the view built on). */
  viewFilesRead: number;
  elapsedMs: number;
}

export interface BackfillResult {
  lakeVersion: number;
  days: { day: string; result: BatchRunResult }[];
}

export async function backfill(options: BackfillOptions): Promise<BackfillResult> {
  const range = alignedRange(options.from, options.to, DAY_MS, 'day');
  const table = await openTable(options.lakeDir, EVENTS_SCHEMA, { threads: options.threads });
  try {
    const snapshot =
      options.asOfVersion === undefined
        ? await table.refresh()
        : await table.snapshot({ version: options.asOfVersion });
    const files = await table.filesAt({ version: snapshot.version });
    const total = (range.to - range.from) / DAY_MS;
    const started = performance.now();
    const days: BackfillResult['days'] = [];
    for (let from = range.from; from < range.to; from += DAY_MS) {
      options.signal?.throwIfAborted();
      const result = await runBatch({
        client: options.client,
        files,
        lakeVersion: snapshot.version,
        from,
        to: from + DAY_MS,
        viewsDir: options.viewsDir,
        catalog: options.catalog,
        // Lateness is measured against what the lake held at that version, not the wall clock.
        now: snapshot.timestamp,
        allowedLatenessMs: options.allowedLatenessMs,
        signal: options.signal,
        threads: options.threads,
        recompute: options.recompute,
        since: options.full
          ? undefined
          : await viewToBuildOn(options.lakeDir, options.viewsDir, dayOf(from), snapshot.version),
      });
      days.push({ day: dayOf(from), result });
      options.onProgress?.({
        day: dayOf(from),
        done: days.length,
        total,
        rows: Object.values(result.recompute.metrics).reduce((n, m) => n + m.rowCount, 0),
        hoursScanned: hoursScanned(result),
        viewFilesRead: viewFilesRead(result),
        elapsedMs: performance.now() - started,
      });
    }
    return { lakeVersion: snapshot.version, days };
  } finally {
    table.close();
  }
}

export const hoursScanned = (result: BatchRunResult): number =>
  result.recompute.incremental?.hoursScanned ?? DAY_MS / HOUR_MS;

export const viewFilesRead = (result: BatchRunResult): number =>
  Object.values(result.load.metrics).reduce((n, m) => n + m.filesRead, 0);

/**
 * The day's batch view and the hours whose lake data changed since the version it read; undefined
 * when there is nothing to build on: no view, one from elsewhere, one newer than `version` (a
 * backfill as of an older version), or a log that cannot say what changed.
 */
async function viewToBuildOn(
  lakeDir: string,
  viewsDir: string,
  day: string,
  version: number,
): Promise<RecomputeOptions['since']> {
  const view = dayManifest(viewsDir, day);
  if (!view || view.lakeVersion === null || view.lakeVersion > version) return undefined;
  const changed = await hoursChangedBetween(lakeDir, view.lakeVersion, version);
  return changed && { view, changed };
}
