// A uPlot line chart of one measure of a MinuteSeries, one line per series. uPlot draws on a canvas
// straight from the model's typed arrays (no copies), so a week of minutes per line stays cheap.
import uPlot from 'uplot';
import type { MinuteSeries } from './minute-series.ts';

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

export class MinuteChart {
  private plot: uPlot | undefined;
  private keys: string[] = [];
  private drawn = -1;
  private width = 0;

  constructor(
    private readonly host: HTMLElement,
    private readonly series: MinuteSeries,
    private readonly options: ChartOptions,
  ) {}

  /** The model or the width changed since the last paint. */
  stale(): boolean {
    return this.drawn !== this.series.version || this.host.clientWidth !== this.width;
  }

  paint(): void {
    const width = this.host.clientWidth;
    const keys = this.series.keys(this.options.measure);
    const data = this.series.data(this.options.measure, keys) as uPlot.AlignedData;
    if (!this.plot || JSON.stringify(keys) !== JSON.stringify(this.keys)) {
      this.plot?.destroy();
      this.keys = keys;
      this.plot = new uPlot(this.plotOptions(keys, width), data, this.host);
    } else {
      if (width !== this.width) this.plot.setSize({ width, height: HEIGHT });
      this.plot.setData(data);
    }
    this.width = width;
    this.drawn = this.series.version;
  }

  private plotOptions(keys: readonly string[], width: number): uPlot.Options {
    const scale = this.options.scale ?? 1;
    const unit = this.options.unit ?? '';
    const format = (v: number | null) =>
      v === null ? '' : `${unit}${(v / scale).toLocaleString(undefined, { maximumFractionDigits: 0 })}`;
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
        {},
        ...keys.map((key, i) => ({
          label: key || 'all',
          stroke: PALETTE[i % PALETTE.length],
          width: 1.5,
          points: { show: false },
          value: (_u: uPlot, v: number | null) => format(v),
        })),
      ],
    };
  }
}
