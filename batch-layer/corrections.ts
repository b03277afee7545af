// Late events below the watermark, noticed in the lake's log and kept durably until a batch view of
// their day has read them. The lake partitions by UTC date and hour and every data commit's `add`
// actions name their partition and row count, so the log itself says which hours a commit touched;
// compaction (dataChange: false) touches none. A scan reads the commits after the last one it read
// and keeps, per hour, the commits that no batch view of the hour's day has read yet (a batch view
// records the lake version it recomputed from). An hour below the watermark with such commits holds
// accepted rows the batch view lacks: its day needs a correction, a recompute at a newer version.
// Hours above the watermark are kept too, so that a batch run whose snapshot predates a commit and
// moves the watermark past its hour still leaves that hour pending.
import { join } from 'node:path';
import { listLog } from '../lake/index.ts';
import { commitHours } from './lake-hours.ts';
import {
  type BatchViewManifest,
  claimedVersions,
  readBatchManifest,
  readJson,
  writeJsonAtomic,
} from './manifest.ts';
import { DAY_MS, HOUR_MS } from './time.ts';

/** Commits of one hour no batch view read yet, one entry per scan that found some. */
export interface HourCommits {
  /** Newest lake version of the entry's commits. */
  version: number;
  /** Lake rows they added (an order is a row per line). */
  rows: number;
  /** When a scan first found them (ms). */
  seenAt: number;
}

export interface CorrectionState {
  /** The newest lake version read. */
  scannedVersion: number;
  /** By the hour's start (ISO-8601). */
  hours: Record<string, HourCommits[]>;
  updatedAt: string;
}

export interface PendingHour {
  /** [from, to) in ms: one UTC hour. */
  from: number;
  to: number;
  rows: number;
  seenAt: number;
}

export interface PendingDay {
  /** YYYY-MM-DD. */
  day: string;
  hours: PendingHour[];
  /** When its oldest uncorrected commit was first seen (ms). */
  since: number;
}

export const correctionsPath = (viewsDir: string): string => join(viewsDir, 'corrections.json');

export function readCorrections(viewsDir: string): CorrectionState | undefined {
  return readJson<CorrectionState>(correctionsPath(viewsDir));
}

// A committed manifest never changes: each is read once per process (the serving layer asks every
// second, and corrections add a batch version a minute).
const committed = new Map<string, BatchViewManifest>();

function manifestsOf(viewsDir: string): BatchViewManifest[] {
  const manifests: BatchViewManifest[] = [];
  for (const version of claimedVersions(viewsDir)) {
    const key = `${viewsDir}\0${version}`;
    const manifest = committed.get(key) ?? readBatchManifest(viewsDir, version);
    if (!manifest) continue;
    committed.set(key, manifest);
    manifests.push(manifest);
  }
  return manifests;
}

/** Per UTC day, the lake version its authoritative (highest) batch version recomputed from. */
function dayLakeVersions(viewsDir: string): Map<string, number> {
  const days = new Map<string, number>();
  for (const manifest of manifestsOf(viewsDir)) {
    for (let t = Date.parse(manifest.from); t < Date.parse(manifest.to); t += DAY_MS)
      days.set(new Date(t).toISOString().slice(0, 10), manifest.lakeVersion ?? -1);
  }
  return days;
}

export interface ScanOptions {
  lakeDir: string;
  viewsDir: string;
  /** Default: now. */
  now?: number;
}

/**
 * Reads the lake commits after the last scan, drops the commits batch views have read since, and
 * writes the state back. The first scan starts at the oldest lake version a batch view read (the
 * newest version when there is none: nothing is below a watermark yet).
 */
export async function scanCorrections(options: ScanOptions): Promise<CorrectionState> {
  const now = options.now ?? Date.now();
  const { versions } = await listLog(options.lakeDir);
  const latest = versions.at(-1) ?? -1;
  const read = dayLakeVersions(options.viewsDir);
  const state: CorrectionState = readCorrections(options.viewsDir) ?? {
    scannedVersion: read.size > 0 ? Math.min(...read.values()) : latest,
    hours: {},
    updatedAt: new Date(now).toISOString(),
  };
  const found = new Map<number, HourCommits>();
  for (const version of versions) {
    if (version <= state.scannedVersion) continue;
    for (const [hour, rows] of (await commitHours(options.lakeDir, version)).hours) {
      const entry = found.get(hour) ?? { version, rows: 0, seenAt: now };
      entry.version = version;
      entry.rows += rows;
      found.set(hour, entry);
    }
  }
  for (const [hour, entry] of found) {
    const key = new Date(hour).toISOString();
    state.hours[key] = [...(state.hours[key] ?? []), entry];
  }
  for (const [key, entries] of Object.entries(state.hours)) {
    const readUpTo = read.get(key.slice(0, 10)) ?? -1;
    const left = entries.filter((e) => e.version > readUpTo);
    if (left.length > 0) state.hours[key] = left;
    else delete state.hours[key];
  }
  state.scannedVersion = Math.max(state.scannedVersion, latest);
  state.updatedAt = new Date(now).toISOString();
  writeJsonAtomic(correctionsPath(options.viewsDir), state);
  return state;
}

/**
 * The hours of [since, watermark) with commits no batch view read, by day, oldest first. The
 * batch views on disk are consulted again, so a day corrected since the last scan is not listed.
 */
export function pendingCorrections(
  viewsDir: string,
  state: CorrectionState | undefined,
  boundary: { since: number; watermark: number } | undefined,
): PendingDay[] {
  if (!state || !boundary) return [];
  const read = dayLakeVersions(viewsDir);
  const days = new Map<string, PendingDay>();
  for (const [key, all] of Object.entries(state.hours)) {
    const entries = all.filter((e) => e.version > (read.get(key.slice(0, 10)) ?? -1));
    if (entries.length === 0) continue;
    const from = Date.parse(key);
    if (from < boundary.since || from + HOUR_MS > boundary.watermark) continue;
    const hour: PendingHour = {
      from,
      to: from + HOUR_MS,
      rows: entries.reduce((n, e) => n + e.rows, 0),
      seenAt: Math.min(...entries.map((e) => e.seenAt)),
    };
    const day = key.slice(0, 10);
    const pending = days.get(day) ?? { day, hours: [], since: hour.seenAt };
    pending.hours.push(hour);
    pending.since = Math.min(pending.since, hour.seenAt);
    days.set(day, pending);
  }
  return [...days.values()]
    .map((d) => ({ ...d, hours: d.hours.sort((a, b) => a.from - b.from) }))
    .sort((a, b) => a.day.localeCompare(b.day));
}
