// One batch job: recompute whole UTC days of a lake snapshot, commit the batch view, load it into
// ClickHouse, and only then advance the watermark.
import type { ClickHouseClient } from '@clickhouse/client';
import type { Catalog } from '../contracts/catalog.ts';
import { type LoadResult, loadBatchView } from './load.ts';
import { type RecomputeOptions, type RecomputeResult, recomputeMetrics } from './recompute.ts';
import type { TimeInput } from './time.ts';
import { type AdvanceResult, advanceWatermark } from './watermark.ts';

export interface BatchRunOptions {
  client: ClickHouseClient;
  /** Parquet files of the lake snapshot. */
  files: readonly string[];
  lakeVersion?: number | null;
  /** Whole UTC days. */
  from: TimeInput;
  to: TimeInput;
  viewsDir: string;
  catalog?: Catalog;
  /** When the lake snapshot was taken (default: now). */
  now?: TimeInput;
  allowedLatenessMs: number;
  watermarkIntervalMs?: number;
  /** Checked until the recompute commits; from then on the run finishes. */
  signal?: AbortSignal;
  /** Threads of the recompute's DuckDB (default: DuckDB's, one per core). */
  threads?: number;
  /** The day's previous batch view to build on (recompute.ts). */
  since?: RecomputeOptions['since'];
  /** Runs the recompute step (default recomputeMetrics here; the jobs run it in a child process). */
  recompute?: (options: RecomputeOptions) => Promise<RecomputeResult>;
}

export interface BatchRunResult {
  recompute: RecomputeResult;
  load: LoadResult;
  watermark: AdvanceResult;
}

export async function runBatch(options: BatchRunOptions): Promise<BatchRunResult> {
  const recompute = await (options.recompute ?? recomputeMetrics)({
    files: options.files,
    from: options.from,
    to: options.to,
    catalog: options.catalog,
    output: { viewsDir: options.viewsDir, lakeVersion: options.lakeVersion ?? null },
    collectRows: false,
    signal: options.signal,
    threads: options.threads,
    since: options.since,
  });
  const version = recompute.view?.version;
  const load = await loadBatchView(options.client, {
    viewsDir: options.viewsDir,
    version,
    catalog: options.catalog,
  });
  const watermark = advanceWatermark(options.viewsDir, {
    from: options.from,
    to: options.to,
    now: options.now,
    allowedLatenessMs: options.allowedLatenessMs,
    intervalMs: options.watermarkIntervalMs,
    batchVersion: version ?? null,
    lakeVersion: options.lakeVersion ?? null,
  });
  return { recompute, load, watermark };
}
