// Versioned batch views on disk, in the spirit of Druid's segment versions: every recompute writes
// a new batch version n (never overwriting an older one) under
//   <viewsDir>/<metric>_v<metricVersion>/batch_version=<n>/date=<YYYY-MM-DD>/hour_<HH>.parquet
// (one file per hour with rows, scanned from the lake or copied from the version built on)
// and commits it by writing <viewsDir>/_versions/<n>/manifest.json. A version exists iff its
// manifest does: a recompute that died half way leaves files no reader looks at. For each day the
// highest committed version covering it is authoritative (resolveBatchView).
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { dayOf } from './time.ts';

export interface BatchViewMetric {
  name: string;
  /** The metric's catalog version. */
  version: number;
  /** Directory of this batch version's files, relative to viewsDir. */
  dir: string;
  /** Parquet files, relative to viewsDir; one per hour that has rows (viewHourFile). */
  files: string[];
  /**
   * Built on an earlier batch version's rows of the metric: which version, and the hours (ISO
   * starts) scanned from the lake; every other hour of the day holds that version's rows as they were.
   */
  builtOn?: { batchVersion: number; scannedHours: string[] };
}

export interface BatchViewManifest {
  /** Batch-view version: increases by one per recompute. */
  version: number;
  /** Lake (Delta log) version the recompute read; null when the files came from elsewhere. */
  lakeVersion: number | null;
  /** Recomputed range [from, to), whole UTC days, ISO-8601. */
  from: string;
  to: string;
  createdAt: string;
  metrics: BatchViewMetric[];
  /** Rows per metric name. */
  rowCounts: Record<string, number>;
}

const VERSIONS = '_versions';

/** Where the platform keeps its batch views, manifests and watermark. */
export const batchViewsDir = (dataDir: string): string => join(dataDir, 'batch-views');
const MANIFEST = 'manifest.json';

/** Writes `data` as JSON to `path` atomically: a reader sees the old file or the new one, whole. */
export function writeJsonAtomic(path: string, data: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(temp, `${JSON.stringify(data, null, 2)}\n`);
  renameSync(temp, path);
}

export function readJson<T>(path: string): T | undefined {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : undefined;
}

/** The file of a view's rows of one hour (its start, ms), relative to the metric's version directory. */
export const viewHourFile = (hour: number): string =>
  join(`date=${dayOf(hour)}`, `hour_${String(new Date(hour).getUTCHours()).padStart(2, '0')}.parquet`);

export function metricViewDir(metric: { name: string; version: number }, batchVersion: number): string {
  return join(`${metric.name}_v${metric.version}`, `batch_version=${batchVersion}`);
}

/** Batch versions claimed so far, committed or not, oldest first. */
export function claimedVersions(viewsDir: string): number[] {
  const dir = join(viewsDir, VERSIONS);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * Claims the next batch version: mkdir of `_versions/<n>` is exclusive, so two concurrent
 * recomputes never get the same n (the loser tries n + 1).
 */
export function claimBatchVersion(viewsDir: string): number {
  mkdirSync(join(viewsDir, VERSIONS), { recursive: true });
  let version = (claimedVersions(viewsDir).at(-1) ?? 0) + 1;
  for (;;) {
    try {
      mkdirSync(join(viewsDir, VERSIONS, String(version)));
      return version;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      version++;
    }
  }
}

/** When a batch version was claimed (ms): its claim's directory's modification time. */
export const claimedAt = (viewsDir: string, version: number): number =>
  statSync(join(viewsDir, VERSIONS, String(version))).mtimeMs;

/**
 * Removes a batch version: its manifest first, so a reader sees it committed and whole or not at
 * all, then its files under every metric and its claim.
 */
export function removeBatchVersion(viewsDir: string, version: number): void {
  rmSync(join(viewsDir, VERSIONS, String(version), MANIFEST), { force: true });
  for (const entry of readdirSync(viewsDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === VERSIONS) continue;
    rmSync(join(viewsDir, entry.name, `batch_version=${version}`), { recursive: true, force: true });
  }
  rmSync(join(viewsDir, VERSIONS, String(version)), { recursive: true, force: true });
}

/** Commits a batch version: its manifest, then the `manifest.json` pointer to the newest one. */
export function commitBatchView(viewsDir: string, manifest: BatchViewManifest): void {
  writeJsonAtomic(join(viewsDir, VERSIONS, String(manifest.version), MANIFEST), manifest);
  const latest = readJson<BatchViewManifest>(join(viewsDir, MANIFEST));
  if (!latest || latest.version < manifest.version) writeJsonAtomic(join(viewsDir, MANIFEST), manifest);
}

/** A committed batch version's manifest (default: the newest); undefined if there is none. */
export function readBatchManifest(viewsDir: string, version?: number): BatchViewManifest | undefined {
  return version === undefined
    ? readJson(join(viewsDir, MANIFEST))
    : readJson(join(viewsDir, VERSIONS, String(version), MANIFEST));
}

/** Every committed batch version, oldest first (claimed versions without a manifest are skipped). */
export function listBatchManifests(viewsDir: string): BatchViewManifest[] {
  return claimedVersions(viewsDir)
    .map((version) => readBatchManifest(viewsDir, version))
    .filter((m): m is BatchViewManifest => m !== undefined);
}

/**
 * Per UTC day, the authoritative batch version of a metric and its files (absolute paths; empty
 * when the recompute found no rows that day): the highest committed version whose range covers the
 * day, as Druid overshadows older segments chunk by chunk.
 */
export function resolveBatchView(
  viewsDir: string,
  metric: { name: string; version: number },
): Map<string, { batchVersion: number; files: string[] }> {
  const days = new Map<string, { batchVersion: number; files: string[] }>();
  for (const manifest of listBatchManifests(viewsDir)) {
    const entry = manifest.metrics.find((m) => m.name === metric.name && m.version === metric.version);
    if (!entry) continue;
    const from = Date.parse(manifest.from);
    for (let t = from; t < Date.parse(manifest.to); t += 86_400_000) {
      const day = new Date(t).toISOString().slice(0, 10);
      days.set(day, { batchVersion: manifest.version, files: dayFiles(viewsDir, entry, day) });
    }
  }
  return new Map([...days.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

/** A metric's files of one day (YYYY-MM-DD) in a batch version, as absolute paths. */
export const dayFiles = (viewsDir: string, entry: BatchViewMetric, day: string): string[] =>
  entry.files.filter((f) => f.includes(`/date=${day}/`)).map((f) => join(viewsDir, f));

/** The authoritative batch view of a day (YYYY-MM-DD): the highest committed version covering it. */
export function dayManifest(viewsDir: string, day: string): BatchViewManifest | undefined {
  const start = Date.parse(`${day}T00:00:00Z`);
  return listBatchManifests(viewsDir)
    .filter((m) => Date.parse(m.from) <= start && start < Date.parse(m.to))
    .at(-1);
}
