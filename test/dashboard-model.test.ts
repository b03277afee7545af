// The dashboard's pure parts: the columnar per-minute model (snapshot, deltas replacing by key, the
// sliding window, the minute under way), stacking, and the painter's frame cap.
import { describe, expect, it } from 'vitest';
import type { Answer, Row } from '../serving-layer/dashboard/answer.ts';
import { MinuteSeries } from '../serving-layer/dashboard/minute-series.ts';
import { createPainter } from '../serving-layer/dashboard/painter.ts';
import { stack } from '../serving-layer/dashboard/stack.ts';
import { ordersAnswer } from './support/dashboard.ts';

const T0 = Date.parse('2025-06-01T10:00:00Z');
const MINUTE = 60_000;
const at = (minute: number) => new Date(T0 + minute * MINUTE).toISOString();

const answer = (rows: Row[], minutes = 10): Answer =>
  ordersAnswer(at(0), at(minutes), ['orders', 'revenue_minor'], rows);

describe('MinuteSeries', () => {
  it('a delta replaces the value at its (minute, series) key, never adds to it', () => {
    const model = new MinuteSeries(60 * MINUTE);
    model.reset(
      answer([
        { time: at(1), region: 'texas', orders: 2, revenue_minor: 500 },
        { time: at(1), region: 'florida', orders: 1, revenue_minor: 100 },
      ]),
    );
    expect(model.total('revenue_minor')).toBe(600);
    const version = model.version;
    model.apply([{ time: at(1), region: 'texas', orders: 3, revenue_minor: 750 }]);
    model.apply([{ time: at(1), region: 'texas', orders: 3, revenue_minor: 750 }]);
    expect(model.version).toBeGreaterThan(version);
    expect(model.total('revenue_minor')).toBe(850);
    expect(model.keys('orders')).toEqual(['florida', 'texas']);
    const [xs, florida, texas] = model.data('orders', ['florida', 'texas']);
    expect(xs?.[1]).toBe((T0 + MINUTE) / 1000);
    expect([florida?.[1], texas?.[1], texas?.[0]]).toEqual([1, 3, 0]);
  });

  it('grows with new minutes (a new series starts at zero) and drops minutes that leave the window', () => {
    const model = new MinuteSeries(10 * MINUTE);
    model.reset(answer([{ time: at(0), region: 'texas', orders: 5, revenue_minor: 1 }], 5));
    // Past the initial capacity, so the columns are reallocated.
    model.apply([{ time: at(100), region: 'plains', orders: 7, revenue_minor: 2 }]);
    expect(model.size).toBe(101);
    const [, plains] = model.data('orders', ['plains']);
    expect(plains?.[0]).toBe(0);
    expect(plains?.[100]).toBe(7);
    model.extendTo(T0 + 100 * MINUTE + 30_000);
    expect(model.size).toBe(11);
    expect(model.newestMinute()).toBe(T0 + 100 * MINUTE);
    expect(model.total('orders')).toBe(7);
    // A row older than the window has nowhere to go.
    model.apply([{ time: at(3), region: 'texas', orders: 9, revenue_minor: 9 }]);
    expect(model.total('orders')).toBe(7);
  });
});

describe('the minute under way', () => {
  it('is not among the closed minutes until it ends; sums per minute cover every series', () => {
    const model = new MinuteSeries(60 * MINUTE);
    model.reset(
      answer(
        [
          { time: at(8), region: 'texas', orders: 4, revenue_minor: 1 },
          { time: at(8), region: 'plains', orders: 3, revenue_minor: 1 },
          { time: at(9), region: 'texas', orders: 1, revenue_minor: 1 },
        ],
        9,
      ),
    );
    // The answer ran to 10:09:00; at 10:09:30 minute 9 is under way: 9 closed minutes (0-8).
    expect(model.size).toBe(10);
    expect(model.closedLength(T0 + 9 * MINUTE + 30_000)).toBe(9);
    expect(model.closedLength(T0 + 10 * MINUTE)).toBe(10);
    expect(model.totalAt('orders', 8)).toBe(7);
    expect(model.totalAt('orders', 9)).toBe(1);
    expect(model.totalAt('orders', 10)).toBe(0);
    // Drawn data stops at the closed minutes.
    const [xs, texas] = model.data('orders', ['texas'], model.closedLength(T0 + 9 * MINUTE + 30_000));
    expect([xs?.length, texas?.at(-1)]).toEqual([9, 4]);
  });
});

describe('stack', () => {
  it('draws each series on the ones before it: the top is the total', () => {
    const stacked = stack([Float64Array.of(1, 2, 0), Float64Array.of(3, 0, 5), Float64Array.of(0, 1, 1)]);
    expect(stacked.map((s) => [...s])).toEqual([
      [1, 2, 0],
      [4, 2, 5],
      [4, 3, 6],
    ]);
  });
});

describe('createPainter', () => {
  it('paints once per allowed frame however many changes came, at most 30 times a second', () => {
    const queued: ((now: number) => void)[] = [];
    let painted = 0;
    const painter = createPainter(() => painted++, { requestFrame: (callback) => queued.push(callback) });
    // A 60 Hz display for one second, with a change before every frame.
    for (let frame = 0; frame < 60; frame++) {
      for (let change = 0; change < 10; change++) painter.invalidate();
      expect(queued.length).toBe(1);
      queued.shift()?.(frame * (1000 / 60));
    }
    expect(painted).toBe(30);
    expect(painter.paints).toBe(30);
    // The change before the last, skipped frame is painted by the next one; then nothing is pending.
    queued.shift()?.(1000);
    expect(painted).toBe(31);
    expect(queued.length).toBe(0);
  });
});
