// Retention of batch versions. Every recompute writes a new version of its days (the hourly one the
// whole day so far) and nothing removed one, so the views grew by a day's rollups an hour. A
// committed version stays while some day it covers has no higher committed version (it is
// authoritative there: resolveBatchView), and for the retention after the last of its days was
// overshadowed, so that a bad batch view can still be rolled back by loading an older one. A
// claimed version that never committed (its recompute died) holds files no reader looks at: it goes
// once its claim is older than the retention, far longer than a recompute runs.
import {
  type BatchViewManifest,
  claimedAt,
  claimedVersions,
  listBatchManifests,
  removeBatchVersion,
} from './manifest.ts';
import { daysOf, HOUR_MS } from './time.ts';

export interface ViewsVacuumOptions {
  retentionHours: number;
  /** Default: now. */
  now?: number;
}

/**
 * The committed versions overshadowed on every day they cover, with when the last of their days
 * was: the creation of the first higher version covering it.
 */
function overshadowedAt(manifests: readonly BatchViewManifest[]): Map<number, number> {
  const at = new Map<number, number>();
  manifests.forEach((manifest, i) => {
    const later = manifests.slice(i + 1);
    let last = 0;
    for (const day of daysOf({ from: Date.parse(manifest.from), to: Date.parse(manifest.to) })) {
      const start = Date.parse(`${day}T00:00:00Z`);
      const next = later.find((m) => Date.parse(m.from) <= start && start < Date.parse(m.to));
      if (!next) return; // still authoritative for this day
      last = Math.max(last, Date.parse(next.createdAt));
    }
    at.set(manifest.version, last);
  });
  return at;
}

/** Deletes the batch versions the retention lets go; returns them, oldest first. */
export function vacuumBatchViews(viewsDir: string, options: ViewsVacuumOptions): number[] {
  const cutoff = (options.now ?? Date.now()) - options.retentionHours * HOUR_MS;
  const manifests = listBatchManifests(viewsDir);
  const committed = new Set(manifests.map((m) => m.version));
  const overshadowed = overshadowedAt(manifests);
  const doomed = claimedVersions(viewsDir).filter((version) =>
    committed.has(version)
      ? (overshadowed.get(version) ?? Number.POSITIVE_INFINITY) < cutoff
      : claimedAt(viewsDir, version) < cutoff,
  );
  for (const version of doomed) removeBatchVersion(viewsDir, version);
  return doomed;
}
