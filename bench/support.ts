import type { TidewaterEvent } from '../contracts/index.ts';
import type { AcceptedRecord } from '../quality/index.ts';

/** Median of a non-empty list. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Percentile (0..100) by nearest rank. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/** Progress goes to stderr, so stdout ends with the one JSON line a runner reads. */
export const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** The bench's last line of output: one JSON object with its figures and targets. */
export function report(figures: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

/** A generated event as the quality gate hands it to a sink: accepted, at `offset` of partition 0. */
export function acceptedAt(event: TidewaterEvent, value: Buffer, offset: number): AcceptedRecord {
  return {
    source: { topic: 'events', partition: 0, offset: String(offset), key: null, value, timestamp: 0 },
    event,
    eventTimeMs: Date.parse(event.eventTime),
    late: false,
    warnings: [],
  };
}
