// Prometheus counters of the gate, fed from its reports. The registry is the caller's: a process
// exposes one registry of all its layers, and tests get a fresh one without name clashes.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BatchReport } from './report.ts';
import type { VerdictBoard } from './verdict-board.ts';
import type { WindowReport } from './windows.ts';

export interface QualityMetrics {
  observeBatch(report: BatchReport): void;
  /** Sets the bad-share gauge from the last closed window and counts its dataset-level warnings. */
  observeWindow(report: WindowReport): void;
}

const OUTCOMES = [
  ['accepted', 'accepted'],
  ['rejected', 'rejected'],
  ['duplicate', 'duplicates'],
] as const;

export function createQualityMetrics(registry: Registry): QualityMetrics {
  const registers = [registry];
  const records = new Counter({
    name: 'tidewater_quality_records_total',
    help: 'Records through the quality gate by outcome and event type.',
    labelNames: ['outcome', 'event_type'],
    registers,
  });
  const ruleFailures = new Counter({
    name: 'tidewater_quality_rule_failures_total',
    help: 'Records failing each expectation rule (quarantine and warn); dataset rules count minutes.',
    labelNames: ['rule_id'],
    registers,
  });
  const duplicates = new Counter({
    name: 'tidewater_quality_duplicates_total',
    help: 'Records dropped as duplicate eventIds.',
    registers,
  });
  const late = new Counter({
    name: 'tidewater_quality_late_total',
    help: 'Accepted records older than the allowed lateness at arrival.',
    labelNames: ['event_type'],
    registers,
  });
  const badShare = new Gauge({
    name: 'tidewater_quality_bad_share',
    help: 'Rejected share of the records of the last closed arrival minute.',
    registers,
  });

  return {
    observeBatch(report) {
      for (const [eventType, counts] of Object.entries(report.byEventType)) {
        for (const [outcome, field] of OUTCOMES) {
          if (counts[field] > 0) records.inc({ outcome, event_type: eventType }, counts[field]);
        }
        if (counts.late > 0) late.inc({ event_type: eventType }, counts.late);
      }
      for (const [ruleId, count] of Object.entries(report.byRule))
        ruleFailures.inc({ rule_id: ruleId }, count);
      if (report.duplicates > 0) duplicates.inc(report.duplicates);
    },
    observeWindow(report) {
      badShare.set(report.badShare);
      for (const { ruleId } of report.expectations) ruleFailures.inc({ rule_id: ruleId });
    },
  };
}

/** The verdict board's spill: its files are unlinked, so `df` counts them and `du` does not; this says how much. */
export function registerVerdictBoardMetrics(
  registry: Registry,
  board: Pick<VerdictBoard, 'spilledBytes'>,
): void {
  new Gauge({
    name: 'tidewater_verdict_board_spilled_bytes',
    help: "Bytes of the speed layer's verdicts held on disk for a lake writer behind memory's reach (TIDEWATER_VERDICT_SPILL_MB).",
    registers: [registry],
    collect() {
      this.set(board.spilledBytes);
    },
  });
}
