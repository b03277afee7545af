// The boundary rule alone: segments tile the range exactly, batch only inside [since, watermark).
import { describe, expect, it } from 'vitest';
import { planSegments } from '../serving-layer/index.ts';

describe('planSegments', () => {
  it('covers every range with no gap and no overlap, batch only inside the recomputed span', () => {
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 2000; i++) {
      const range = { from: next(100), to: next(100) };
      const since = next(100);
      const boundary = next(3) === 0 ? undefined : { since, watermark: since + next(50) };
      const segments = planSegments(range, boundary);
      if (range.to <= range.from) {
        expect(segments).toEqual([]);
        continue;
      }
      expect(segments[0]?.from).toBe(range.from);
      expect(segments.at(-1)?.to).toBe(range.to);
      for (const [j, s] of segments.entries()) {
        expect(s.to).toBeGreaterThan(s.from);
        if (j > 0) expect(s.from).toBe(segments[j - 1]?.to);
        const inSpan = boundary !== undefined && s.from >= boundary.since && s.to <= boundary.watermark;
        expect(s.layer === 'batch').toBe(inSpan);
      }
    }
  });

  it('splits a range that straddles both ends of the span into speed, batch, speed', () => {
    expect(planSegments({ from: 0, to: 100 }, { since: 20, watermark: 60 })).toEqual([
      { layer: 'speed', from: 0, to: 20 },
      { layer: 'batch', from: 20, to: 60 },
      { layer: 'speed', from: 60, to: 100 },
    ]);
  });

  it('gives late ranges inside the span to the speed view, each instant to exactly one layer', () => {
    let seed = 11;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 1000; i++) {
      const range = { from: next(60), to: 40 + next(60) };
      const since = next(50);
      const boundary = { since, watermark: since + next(60) };
      const late = Array.from({ length: next(4) }, () => {
        const from = next(100);
        return { from, to: from + 1 + next(10) };
      });
      const segments = planSegments(range, boundary, late);
      for (let t = range.from; t < range.to; t++) {
        const owners = segments.filter((s) => s.from <= t && t < s.to);
        expect(owners).toHaveLength(1);
        const batch = t >= since && t < boundary.watermark && !late.some((l) => l.from <= t && t < l.to);
        expect(owners[0]?.layer).toBe(batch ? 'batch' : 'speed');
      }
      for (const [j, s] of segments.entries()) {
        if (j > 0)
          expect(s.layer, 'neighbours of one layer are one segment').not.toBe(segments[j - 1]?.layer);
      }
    }
  });
});
