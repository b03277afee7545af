// Counting gate outcomes: the same tally makes a batch's report and each arrival minute's report.
import { EVENT_TYPES } from '../contracts/index.ts';
import type { RuleFailure } from './types.ts';

export interface EventTypeCounts {
  accepted: number;
  rejected: number;
  duplicates: number;
  late: number;
}

export interface QualityCounts {
  in: number;
  accepted: number;
  rejected: number;
  duplicates: number;
  /** Accepted, but older than the allowed lateness at arrival. */
  late: number;
  /** Accepted with at least one `warn` failure. */
  warned: number;
  /** Records failing each rule id (quarantine and warn alike); a record counts once per rule. */
  byRule: Record<string, number>;
  /** Keyed by event type; records whose type is not a contract type count under `unknown`. */
  byEventType: Record<string, EventTypeCounts>;
  /** rejected / in, 0 for an empty count. */
  badShare: number;
}

export interface BatchReport extends QualityCounts {
  kind: 'batch';
  /** When the gate ran the batch (ms since epoch, from the gate's clock). */
  at: number;
  /** Arrival (message timestamp) range of the batch, ms since epoch; null for an empty batch. */
  arrival: { from: number; to: number } | null;
}

const KNOWN_TYPES: ReadonlySet<string> = new Set(EVENT_TYPES);

/** Bounded label set for reports and metrics: producers can send any eventType string. */
export function eventTypeLabel(eventType: string | undefined): string {
  return eventType !== undefined && KNOWN_TYPES.has(eventType) ? eventType : 'unknown';
}

export class Tally {
  private readonly counts = { in: 0, accepted: 0, rejected: 0, duplicates: 0, late: 0, warned: 0 };
  private readonly byRule: Record<string, number> = {};
  private readonly byEventType: Record<string, EventTypeCounts> = {};

  // The same few event types repeat record after record: skip the label lookup for a repeat.
  private lastType: string | undefined;
  private lastCounts: EventTypeCounts | undefined;

  private typeCounts(eventType: string | undefined): EventTypeCounts {
    if (eventType !== undefined && eventType === this.lastType && this.lastCounts) return this.lastCounts;
    const counts = this.labelCounts(eventType);
    this.lastType = eventType;
    this.lastCounts = counts;
    return counts;
  }

  private labelCounts(eventType: string | undefined): EventTypeCounts {
    const label = eventTypeLabel(eventType);
    let counts = this.byEventType[label];
    if (!counts) {
      counts = { accepted: 0, rejected: 0, duplicates: 0, late: 0 };
      this.byEventType[label] = counts;
    }
    return counts;
  }

  private failed(failures: readonly RuleFailure[]): void {
    for (const { ruleId } of failures) this.byRule[ruleId] = (this.byRule[ruleId] ?? 0) + 1;
  }

  accepted(eventType: string, late: boolean, warnings: readonly RuleFailure[]): void {
    this.counts.in++;
    this.counts.accepted++;
    const type = this.typeCounts(eventType);
    type.accepted++;
    if (late) {
      this.counts.late++;
      type.late++;
    }
    if (warnings.length > 0) {
      this.counts.warned++;
      this.failed(warnings);
    }
  }

  rejected(eventType: string | undefined, failures: readonly RuleFailure[]): void {
    this.counts.in++;
    this.counts.rejected++;
    this.typeCounts(eventType).rejected++;
    this.failed(failures);
  }

  duplicate(eventType: string): void {
    this.counts.in++;
    this.counts.duplicates++;
    this.typeCounts(eventType).duplicates++;
  }

  get size(): number {
    return this.counts.in;
  }

  toCounts(): QualityCounts {
    const { counts } = this;
    return {
      ...counts,
      byRule: { ...this.byRule },
      byEventType: structuredClone(this.byEventType),
      badShare: counts.in === 0 ? 0 : counts.rejected / counts.in,
    };
  }
}
