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

/**
 * `late`: ranges below the watermark the speed view answers although the batch view covers them,
 * because the speed view holds accepted events the batch view has not read yet (late events).
 */
export function planSegments(
  range: { from: number; to: number },
  boundary?: Boundary,
  late: readonly { from: number; to: number }[] = [],
): Segment[] {
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
  const pieces: Segment[] = [];
  for (const cut of cuts.filter((s) => s.to > s.from)) {
    if (cut.layer === 'speed') pieces.push(cut);
    else pieces.push(...carve(cut, late));
  }
  // Neighbours from the same layer read as one segment.
  const segments: Segment[] = [];
  for (const piece of pieces) {
    const last = segments.at(-1);
    if (last && last.layer === piece.layer && last.to === piece.from) last.to = piece.to;
    else segments.push({ ...piece });
  }
  return segments;
}

/** The batch segment with the late ranges cut out and given to the speed view. */
function carve(batch: Segment, late: readonly { from: number; to: number }[]): Segment[] {
  const out: Segment[] = [];
  let at = batch.from;
  for (const l of [...late].sort((a, b) => a.from - b.from)) {
    const from = Math.max(l.from, at);
    const to = Math.min(l.to, batch.to);
    if (to <= from) continue;
    if (from > at) out.push({ layer: 'batch', from: at, to: from });
    out.push({ layer: 'speed', from, to });
    at = to;
  }
  if (at < batch.to) out.push({ layer: 'batch', from: at, to: batch.to });
  return out;
}
