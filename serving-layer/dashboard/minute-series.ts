// Per-minute values of one metric, columnar: one Float64Array of minute starts and one per
// (measure, series) where a series is a combination of dimension values. Rows replace the value at
// their (minute, series) key, so a snapshot and any number of deltas (or polled answers, which
// carry full values too) land on the same state. A minute with no row is 0: the metrics are counts
// and sums, and a minute without events has none.
import type { Answer, Row } from './answer.ts';

const MINUTE = 60_000;

export class MinuteSeries {
  private start = 0;
  private length = 0;
  private capacity = 0;
  /** Minute starts in seconds (uPlot's unit). */
  private xs = new Float64Array(0);
  private readonly columns = new Map<string, Map<string, Float64Array<ArrayBuffer>>>();
  private dimensions: string[] = [];
  /** Bumped on every change, so painters skip unchanged data. */
  version = 0;

  constructor(private readonly windowMs: number) {}

  /** Replaces everything with a snapshot. */
  reset(answer: Answer): void {
    this.start = Math.floor(Date.parse(answer.from) / MINUTE) * MINUTE;
    this.length = 0;
    this.columns.clear();
    this.dimensions = answer.dimensions;
    for (const measure of answer.measures) this.columns.set(measure, new Map());
    this.extendTo(Date.parse(answer.to));
    this.apply(answer.rows);
  }

  /** Sets the rows' values at their (minute, series) keys. */
  apply(rows: readonly Row[]): void {
    for (const row of rows) {
      const index = (Date.parse(String(row.time)) - this.start) / MINUTE;
      if (!(index >= 0) || !Number.isInteger(index)) continue;
      this.ensureLength(index + 1);
      const key = this.dimensions.map((d) => String(row[d] ?? '')).join(' / ');
      for (const [measure, byKey] of this.columns) {
        let column = byKey.get(key);
        if (!column) {
          column = new Float64Array(this.capacity);
          byKey.set(key, column);
        }
        column[index] = Number(row[measure] ?? 0);
      }
    }
    this.version++;
  }

  /** Grows the axis to the minute of `now` and drops minutes that left the window. */
  extendTo(now: number): void {
    const before = this.length;
    this.ensureLength(Math.floor((now - this.start) / MINUTE) + 1);
    const drop = Math.floor((now - this.windowMs - this.start) / MINUTE);
    if (drop > 0) this.dropFront(Math.min(drop, this.length));
    if (this.length !== before || drop > 0) this.version++;
  }

  /** Series names of a measure, sorted. */
  keys(measure: string): string[] {
    return [...(this.columns.get(measure)?.keys() ?? [])].sort();
  }

  /**
   * [x, ...one column per key] as views over the live arrays, in the order of `keys`, of the first
   * `length` minutes (default all).
   */
  data(measure: string, keys: readonly string[], length = this.length): Float64Array[] {
    const byKey = this.columns.get(measure);
    const empty = new Float64Array(length);
    return [this.xs.subarray(0, length), ...keys.map((k) => byKey?.get(k)?.subarray(0, length) ?? empty)];
  }

  /** How many of the minutes held have ended by `now`: the last one is still open until its end. */
  closedLength(now: number): number {
    return Math.max(0, Math.min(this.length, Math.floor((now - this.start) / MINUTE)));
  }

  /** Sum of a measure over every series at minute `index` (0 when out of range). */
  totalAt(measure: string, index: number): number {
    let sum = 0;
    if (index < 0 || index >= this.length) return 0;
    for (const column of this.columns.get(measure)?.values() ?? []) sum += column[index] ?? 0;
    return sum;
  }

  /** Sum of a measure over every minute and series in the window. */
  total(measure: string): number {
    let sum = 0;
    for (const column of this.columns.get(measure)?.values() ?? [])
      for (let i = 0; i < this.length; i++) sum += column[i] ?? 0;
    return sum;
  }

  /** Start of the newest minute held, or undefined when empty. */
  newestMinute(): number | undefined {
    return this.length === 0 ? undefined : this.start + (this.length - 1) * MINUTE;
  }

  get size(): number {
    return this.length;
  }

  private ensureLength(length: number): void {
    if (length <= this.length) return;
    if (length > this.capacity) {
      this.capacity = Math.max(length, this.capacity * 2, 64);
      this.xs = grow(this.xs, this.capacity);
      for (const byKey of this.columns.values())
        for (const [key, column] of byKey) byKey.set(key, grow(column, this.capacity));
    }
    for (let i = this.length; i < length; i++) {
      this.xs[i] = (this.start + i * MINUTE) / 1000;
      for (const byKey of this.columns.values()) for (const column of byKey.values()) column[i] = 0;
    }
    this.length = length;
  }

  private dropFront(count: number): void {
    this.xs.copyWithin(0, count, this.length);
    for (const byKey of this.columns.values())
      for (const column of byKey.values()) column.copyWithin(0, count, this.length);
    this.start += count * MINUTE;
    this.length -= count;
  }
}

function grow(array: Float64Array, capacity: number): Float64Array<ArrayBuffer> {
  const next = new Float64Array(capacity);
  next.set(array);
  return next;
}
