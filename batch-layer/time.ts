// Time helpers of the batch layer. Everything is UTC; SQL timestamps are `YYYY-MM-DD hh:mm:ss.sss`.
import { toSqlTimestamp } from '../contracts/catalog.ts';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

export type TimeInput = string | Date | number;

export function toMs(time: TimeInput, what = 'time'): number {
  const ms = new Date(time).getTime();
  if (!Number.isFinite(ms)) throw new Error(`${what} is not a valid time: ${String(time)}`);
  return ms;
}

export const isoOf = (ms: number): string => new Date(ms).toISOString();
export const sqlTimeOf = (ms: number): string => toSqlTimestamp(isoOf(ms));
export const dayOf = (ms: number): string => isoOf(ms).slice(0, 10);

/** A checked half-open range [from, to), both multiples of `unitMs` since the epoch. */
export function alignedRange(from: TimeInput, to: TimeInput, unitMs: number, unit: string) {
  const range = { from: toMs(from, 'from'), to: toMs(to, 'to') };
  if (range.from % unitMs !== 0 || range.to % unitMs !== 0)
    throw new Error(
      `range must start and end on whole UTC ${unit}s: ${isoOf(range.from)} .. ${isoOf(range.to)}`,
    );
  if (range.to <= range.from) throw new Error(`empty range ${isoOf(range.from)} .. ${isoOf(range.to)}`);
  return range;
}

/** The UTC days (YYYY-MM-DD) of a whole-day range. */
export function daysOf(range: { from: number; to: number }): string[] {
  const days: string[] = [];
  for (let t = range.from; t < range.to; t += DAY_MS) days.push(dayOf(t));
  return days;
}
