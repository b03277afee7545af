// A uPlot chart of one measure of a MinuteSeries, one series per region (or other dimension value):
// stacked areas (the total on top, each region a band), plain lines, or one series alone. uPlot draws
// on a canvas straight from the model's typed arrays (stacking adds one pass over them), so a week of
// minutes per series stays cheap. The minute still under way is left out: its partial value would
// drop every line towards 0 at the right edge. The legend shows the last full minute's values until
// the cursor points at another.
import uPlot from 'uplot';
import type { MinuteSeries } from './minute-series.ts';
import { stack } from './stack.ts';

const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
  '#1f77b4',
  '#17becf',
];
const HEIGHT = 220;

export interface ChartOptions {
  measure: string;
  /** Turns a stored value into the unit shown (revenue is stored in minor units). */
  scale?: number;
  unit?: string;
}

/** How the series are drawn: stacked areas or lines, every series or one (`only`). */
export interface ChartView {
  stacked: boolean;
  only?: string;
}

export class MinuteChart {
  private plot: uPlot | undefined;
  /** Series keys and stacking the plot was built for. */
  private shape = '';
  /** What the last paint drew: model version, width, closed minutes, view. */
  private drawn = '';
  private view: ChartView = { stacked: true };
  /** The unstacked values on screen, for the legend: [x, ...series]. */
  private values: Float64Array[] = [];

  constructor(
    private readonly host: HTMLElement,
    private readonly series: MinuteSeries,
    private readonly options: ChartOptions,
  ) {}

  setView(view: ChartView): void {
    this.view = view;
  }

  /** Series names of the measure, for a chooser of `only`. */
  keys(): string[] {
    return this.series.keys(this.options.measure);
  }

  private state(now: number): string {
    return JSON.stringify([
      this.series.version,
      this.host.clientWidth,
      this.series.closedLength(now),
      this.view,
    ]);
  }

  /** The model, the width, the view or the minute under way changed since the last paint. */
  stale(now: number): boolean {
    return this.drawn !== this.state(now);
  }

  paint(now: number): void {
    const width = this.host.clientWidth;
    const all = this.series.keys(this.options.measure);
    const keys = this.view.only !== undefined && all.includes(this.view.only) ? [this.view.only] : all;
    const stacked = this.view.stacked && keys.length > 1;
    this.values = this.series.data(this.options.measure, keys, this.series.closedLength(now));
    const [xs = new Float64Array(0), ...columns] = this.values;
    const data = [xs, ...(stacked ? stack(columns) : columns)] as uPlot.AlignedData;
    const shape = JSON.stringify([keys, stacked]);
    if (!this.plot || shape !== this.shape) {
      this.plot?.destroy();
      this.shape = shape;
      this.plot = new uPlot(this.plotOptions(keys, stacked, width), data, this.host);
    } else {
      if (width !== this.plot.width) this.plot.setSize({ width, height: HEIGHT });
      this.plot.setData(data);
      // Values of the last full minute unless the cursor points at one.
      this.plot.setLegend({});
    }
    this.drawn = this.state(now);
  }

  private plotOptions(keys: readonly string[], stacked: boolean, width: number): uPlot.Options {
    const scale = this.options.scale ?? 1;
    const unit = this.options.unit ?? '';
    const format = (v: number | null | undefined) =>
      v == null ? '' : `${unit}${(v / scale).toLocaleString(undefined, { maximumFractionDigits: 0 })}`;
    // Without a cursor the legend shows the newest (last full) minute.
    const shown = (idx: number | null) => idx ?? (this.values[0]?.length ?? 0) - 1;
    const time = (idx: number | null) => {
      const x = this.values[0]?.[shown(idx)];
      if (x === undefined) return '';
      const label = new Date(x * 1000).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
      return idx === null ? `${label} (last full minute)` : label;
    };
    return {
      width,
      height: HEIGHT,
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
      scales: { y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.05 : 1] } },
      axes: [
        { stroke: '#9aa4b2', grid: { stroke: '#263041' } },
        {
          stroke: '#9aa4b2',
          grid: { stroke: '#263041' },
          size: 64,
          values: (_u, splits) => splits.map((v) => format(v)),
        },
      ],
      series: [
        { label: 'minute', value: (_u: uPlot, _v: number, _s: number, idx: number | null) => time(idx) },
        ...keys.map((key, i) => {
          const color = PALETTE[i % PALETTE.length] ?? '#9aa4b2';
          return {
            label: key || 'all',
            stroke: color,
            fill: stacked ? `${color}99` : undefined,
            width: stacked ? 1 : 1.5,
            points: { show: false },
            value: (_u: uPlot, _v: number, sidx: number, idx: number | null) =>
              format(this.values[sidx]?.[shown(idx)]),
          };
        }),
      ],
      // Each band fills between a series and the one below it, so every region is its own area.
      bands: stacked ? keys.slice(1).map((_, i) => ({ series: [i + 2, i + 1] as [number, number] })) : [],
    };
  }
}
