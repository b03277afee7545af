// The time boundary between the layers, as in Apache Pinot's hybrid tables: the batch view answers
// for [since, watermark), the recomputed span the batch watermark describes, and the speed view for
// everything else of the range. Segments never overlap and cover the range with no gap, so no
// minute is counted twice or missed. Pure, so the rule is tested without engines.

export type Layer = 'batch' | 'speed';

export interface Segment {
  layer: Layer;
  /** ms since epoch, [from, to). */
  from: number;
  to: number;
}

export interface Boundary {
  /** End of the recomputed span (ms). */
  watermark: number;
  /** Start of the recomputed span (ms). */
  since: number;
}

export function planSegments(range: { from: number; to: number }, boundary?: Boundary): Segment[] {
  if (range.to <= range.from) return [];
  const cuts = boundary
    ? [
        { layer: 'speed' as const, from: range.from, to: Math.min(range.to, boundary.since) },
        {
          layer: 'batch' as const,
          from: Math.max(range.from, boundary.since),
          to: Math.min(range.to, boundary.watermark),
        },
        { layer: 'speed' as const, from: Math.max(range.from, boundary.watermark), to: range.to },
      ]
    : [{ layer: 'speed' as const, from: range.from, to: range.to }];
  return cuts.filter((s) => s.to > s.from);
}
