// Per-minute validation reports (by arrival time) and the dataset-level volume expectation:
// a minute far below the trailing mean warns, since a silent producer passes every record rule.
import type { GateResult } from './gate.ts';
import type { QualityMetrics } from './metrics.ts';
import { type QualityCounts, Tally } from './report.ts';
import type { RawMessage, RuleFailure } from './types.ts';

export const VOLUME_RULE = 'volume.within_trailing_mean';

export interface WindowReporterOptions {
  /** Warn when a minute has fewer events than this fraction of the trailing mean. */
  minVolumeFraction?: number;
  /** Minutes the trailing mean runs over. */
  trailingMinutes?: number;
  /** Closed minutes needed before the volume expectation judges anything. */
  minHistoryMinutes?: number;
  /** Minutes to wait past a minute's end for stragglers from other partitions before closing it. */
  graceMinutes?: number;
  /** The gate's clock: arrival is capped by it as in the gate, so a bogus CreateTime cannot close the present. */
  now?: () => number;
  metrics?: QualityMetrics;
}

export interface WindowReport extends QualityCounts {
  kind: 'window';
  /** Start of the arrival minute, ms since epoch, and as ISO text. */
  start: number;
  minute: string;
  /** Dataset-level expectation results; only ever `warn`. */
  expectations: RuleFailure[];
}

const MINUTE_MS = 60_000;

export class WindowReporter {
  private readonly minFraction: number;
  private readonly trailing: number;
  private readonly minHistory: number;
  private readonly grace: number;
  private readonly open = new Map<number, Tally>();
  /** `in` of the last closed minutes, oldest first. */
  private readonly history: number[] = [];
  /** First minute not yet closed; undefined before the first record. */
  private nextToClose: number | undefined;
  private latest = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: WindowReporterOptions = {}) {
    this.minFraction = options.minVolumeFraction ?? 0.5;
    this.trailing = options.trailingMinutes ?? 15;
    this.minHistory = options.minHistoryMinutes ?? 5;
    this.grace = options.graceMinutes ?? 1;
  }

  /** Counts a batch's records into their arrival minutes; returns the minutes this closed. */
  add(result: GateResult): WindowReport[] {
    const nowMinute = Math.floor((this.options.now ?? Date.now)() / MINUTE_MS);
    const at = (source: RawMessage) =>
      this.tally(Math.min(Math.floor(source.timestamp / MINUTE_MS), nowMinute));
    for (const record of result.accepted)
      at(record.source).accepted(record.event.eventType, record.late, record.warnings);
    for (const record of result.rejected) at(record.source).rejected(record.eventType, record.failures);
    for (const record of result.duplicateRecords) at(record.source).duplicate(record.eventType);
    return this.closeBefore(this.latest - this.grace);
  }

  /** Closes every open minute, e.g. at shutdown. */
  flush(): WindowReport[] {
    return this.closeBefore(this.latest + 1);
  }

  private tally(arrivalMinute: number): Tally {
    this.nextToClose ??= arrivalMinute;
    // A straggler for a minute already reported counts in the oldest open one.
    const minute = Math.max(arrivalMinute, this.nextToClose);
    if (minute > this.latest) this.latest = minute;
    let tally = this.open.get(minute);
    if (!tally) {
      tally = new Tally();
      this.open.set(minute, tally);
    }
    return tally;
  }

  /** Reports every minute before `end`, including empty ones: a minute with no events is news. */
  private closeBefore(end: number): WindowReport[] {
    const reports: WindowReport[] = [];
    // After a long silence, empty minutes beyond the trailing span would only repeat one another.
    if (this.nextToClose !== undefined) {
      let skipTo = end - this.trailing;
      for (const minute of this.open.keys()) skipTo = Math.min(skipTo, minute);
      this.nextToClose = Math.max(this.nextToClose, skipTo);
    }
    for (; this.nextToClose !== undefined && this.nextToClose < end; this.nextToClose++) {
      const counts = (this.open.get(this.nextToClose) ?? new Tally()).toCounts();
      this.open.delete(this.nextToClose);
      const start = this.nextToClose * MINUTE_MS;
      const report: WindowReport = {
        kind: 'window',
        start,
        minute: new Date(start).toISOString(),
        ...counts,
        expectations: this.volume(counts.in),
      };
      this.history.push(counts.in);
      if (this.history.length > this.trailing) this.history.shift();
      this.options.metrics?.observeWindow(report);
      reports.push(report);
    }
    return reports;
  }

  private volume(events: number): RuleFailure[] {
    if (this.history.length < this.minHistory) return [];
    const mean = this.history.reduce((sum, n) => sum + n, 0) / this.history.length;
    if (events >= this.minFraction * mean) return [];
    return [
      {
        ruleId: VOLUME_RULE,
        severity: 'warn',
        message: `(dataset): ${events} events in the minute, below ${this.minFraction} x the trailing mean of ${mean.toFixed(1)} over ${this.history.length} minutes`,
      },
    ];
  }
}
