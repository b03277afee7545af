// Issue 23's targets and how the soak judges them (bench/soak.ts), apart from the run so that a test
// holds the judgement to runs whose verdicts are known.

/** Least-squares slope of y over x. */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxy = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return sxx === 0 ? 0 : sxy / sxx;
}

/**
 * A layer keeps up when the generator made at least 99% of the offer, the layer took at least 99%
 * of what was produced, and its lag grew by at most a second of the offer a minute after warm-up
 * (sampling puts ±20,000 records of noise on a layer that keeps up). `events_per_s` itself sits
 * ~0.5% under the offer in a run that keeps up (the generator's start-up, the records in flight at
 * the end), so a literal 50,000 is never met.
 */
export function soakTargets(offeredPerSecond: number) {
  return {
    peak_rss_mb: 2_048,
    rss_growth_mb_per_min: 5,
    lag_growth_per_min: offeredPerSecond,
    taken_share: 0.99,
  };
}

export interface LayerRun {
  /** The layer's lag trend after warm-up, records a minute; null: the layer did not run. */
  lagTrendPerMin: number | null;
  /** Its take over the whole run; omitted where it is not judged (the lake's is timed between commits). */
  takenPerSecond?: number;
}

export function keepsUp(
  run: { offeredPerSecond: number; producedPerSecond: number },
  layer: LayerRun,
): boolean | null {
  if (layer.lagTrendPerMin === null) return null;
  const targets = soakTargets(run.offeredPerSecond);
  const offerMade = run.producedPerSecond >= targets.taken_share * run.offeredPerSecond;
  const took =
    layer.takenPerSecond === undefined || layer.takenPerSecond >= targets.taken_share * run.producedPerSecond;
  return offerMade && took && layer.lagTrendPerMin <= targets.lag_growth_per_min;
}
