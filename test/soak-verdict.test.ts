// The soak's judgement of issue 23 (bench/soak-verdict.ts), held to runs whose verdicts docs/soak.md
// gives: a pure unit, the soak itself being a ten-minute benchmark.
import { describe, expect, it } from 'vitest';
import { keepsUp, slope, soakTargets } from '../bench/soak-verdict.ts';

const offered = 50_000;

describe('the soak judges whether a layer keeps up', () => {
  it('fits the least-squares slope of its samples', () => {
    expect(slope([1, 2, 3, 4].map((x) => ({ x, y: 10 + 3 * x })))).toBeCloseTo(3);
    expect(slope([{ x: 1, y: 5 }])).toBe(0);
    expect(slope([2, 2].map((x) => ({ x, y: x })))).toBe(0);
  });

  it('passes a layer that took what was produced and whose lag stayed within a second of the offer a minute', () => {
    // 07:36 on the fast stretch: both layers.
    const run = { offeredPerSecond: offered, producedPerSecond: 49_955 };
    expect(keepsUp(run, { lagTrendPerMin: -450, takenPerSecond: 49_934 })).toBe(true);
    expect(keepsUp(run, { lagTrendPerMin: -630 })).toBe(true);
    // Sampling noise stays within the bound.
    expect(keepsUp(run, { lagTrendPerMin: 20_094 })).toBe(true);
  });

  it('fails a lag that grew by more than a second of the offer a minute', () => {
    // 07:16: the lake writer, +50,795 a minute.
    const run = { offeredPerSecond: offered, producedPerSecond: 49_950 };
    expect(keepsUp(run, { lagTrendPerMin: 50_795 })).toBe(false);
    expect(keepsUp(run, { lagTrendPerMin: offered })).toBe(true);
  });

  it('fails a speed layer that fell behind in the warm-up, though its lag then held', () => {
    // 20:30 on a slow stretch: 97.4% of what was produced, lag trend +16,824 after warm-up.
    const run = { offeredPerSecond: offered, producedPerSecond: 49_900 };
    expect(keepsUp(run, { lagTrendPerMin: 16_824, takenPerSecond: 48_599 })).toBe(false);
  });

  it('passes no layer when the generator could not make the offer', () => {
    const run = { offeredPerSecond: offered, producedPerSecond: 46_004 };
    expect(keepsUp(run, { lagTrendPerMin: 0, takenPerSecond: 46_004 })).toBe(false);
  });

  it('says nothing of a layer that did not run', () => {
    expect(
      keepsUp({ offeredPerSecond: offered, producedPerSecond: offered }, { lagTrendPerMin: null }),
    ).toBeNull();
  });

  it('scales the lag bound with the offer', () => {
    expect(soakTargets(25_000).lag_growth_per_min).toBe(25_000);
    const run = { offeredPerSecond: 25_000, producedPerSecond: 24_990 };
    expect(keepsUp(run, { lagTrendPerMin: 30_000 })).toBe(false);
  });
});
