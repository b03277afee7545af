// The quality gate: bytes -> decoded JSON (contracts' parseRecord) -> contract -> storable ->
// expectation suite -> duplicate check.
// A record ends accepted, rejected (with every failed rule) or counted as a duplicate, so every
// batch satisfies in = accepted + rejected + duplicates. Decisions depend on the records and the
// partition's dedup window only (the clock caps arrival time, below), so re-running a partition's
// log after a crash reproduces them.
import {
  buildDimensions,
  type Dimensions,
  parseRecord,
  RecordProblem,
  storableProblem,
  type TidewaterEvent,
} from '../contracts/index.ts';
import { type ContractEngine, ContractViolation, contractCheck } from './contract.ts';
import { PartitionedDedup, type PartitionRef } from './dedup.ts';
import { EventTimeParser } from './event-time.ts';
import type { QualityMetrics } from './metrics.ts';
import { type BatchReport, Tally } from './report.ts';
import { type CompiledRule, compileRule, dimensionSets, evaluate, type RuleContext } from './rules.ts';
import { DEFAULT_SUITES, type Suites } from './suites.ts';
import type { AcceptedRecord, RawMessage, RejectedRecord, RuleFailure } from './types.ts';

/** Rule ids the gate itself reports, before any suite runs. */
export const GATE_RULES = {
  /**
   * Null value, over MAX_EVENT_BYTES, not UTF-8, not JSON, nested deeper than MAX_JSON_DEPTH, or a
   * `__proto__` / `constructor` key.
   */
  decode: 'decode',
  /** The zod contract of the event type (or an unknown event type). */
  contract: 'contract',
  /**
   * Valid by contract, but not storable exactly by both layers: a lone UTF-16 surrogate, a derived
   * number past 2^53, an event time the rollups' minute columns cannot hold (contracts/storable.ts).
   */
  storable: 'storable',
} as const;

/** Matches TIDEWATER_ALLOWED_LATENESS_MINUTES's default. */
export const DEFAULT_ALLOWED_LATENESS_MINUTES = 15;
export const DEFAULT_CLOCK_SKEW_SECONDS = 120;
/**
 * Remembered eventIds per source partition. Duplicates here are producer retries and resends,
 * which follow their original within seconds (the generator's within 2,000 records), so 250,000
 * ids (a minute and more of a busy partition) leave a wide margin. An id costs ~27 bytes
 * (bench/gate.ts prints the measured figure): ~7 MB for a full partition window, allocated as ids arrive.
 */
export const DEFAULT_DEDUP_WINDOW = 250_000;

export interface GateOptions {
  /** Reference data for referential rules; defaults to buildDimensions(). */
  dimensions?: Dimensions;
  suites?: Suites;
  allowedLatenessMinutes?: number;
  clockSkewSeconds?: number;
  /** eventIds remembered per source partition. */
  dedupWindow?: number;
  /** Contract engine: ajv-compiled JSON Schema with zod fallback (default), or zod alone. */
  engine?: ContractEngine;
  /** ms since epoch; stamps rejections and reports and caps arrival times. */
  now?: () => number;
  metrics?: QualityMetrics;
}

export interface DuplicateRecord {
  source: RawMessage;
  eventId: string;
  eventType: TidewaterEvent['eventType'];
}

export interface GateResult {
  accepted: AcceptedRecord[];
  rejected: RejectedRecord[];
  duplicates: number;
  duplicateRecords: DuplicateRecord[];
  report: BatchReport;
}

export interface Gate {
  run(batch: readonly RawMessage[]): GateResult;
  /** Pre-seeds a partition's dedup window, oldest first, e.g. from its log after a restart. */
  remember(eventIds: Iterable<string>, partition: PartitionRef): void;
  /**
   * Seeds the window with ids as 128-bit values, 4 words each, oldest first: the ids of records
   * whose verdict another gate made (verdict-board.ts), so that this gate's window stays whole.
   */
  rememberBits(bits: Uint32Array, partition: PartitionRef): void;
  /** Reference data for the referential rules from the next run on (the dimensions were refreshed). */
  setDimensions(dimensions: Dimensions): void;
}

/** Shared by every accepted record without warnings: one allocation fewer per record. */
const NO_WARNINGS: readonly RuleFailure[] = Object.freeze([]);

function quarantines(failures: readonly RuleFailure[]): boolean {
  for (let i = 0; i < failures.length; i++)
    if ((failures[i] as RuleFailure).severity === 'quarantine') return true;
  return false;
}

const TOMBSTONE = new RecordProblem('decode', '(root): empty message (a tombstone carries no event)');

/** Identity fields longer than this are not an id: the quarantine keeps them in the original only. */
const MAX_IDENTITY_LENGTH = 256;

/** A string field of a rejected record fit to name it in quarantine. */
function identityField(value: unknown): string | undefined {
  return typeof value === 'string' && value.length <= MAX_IDENTITY_LENGTH ? value : undefined;
}

/** What a rejected record's JSON says about itself, when it got that far. */
function identity(json: unknown): Pick<RejectedRecord, 'eventId' | 'eventType' | 'eventTime'> {
  if (json === null || typeof json !== 'object') return {};
  const { eventId, eventType, eventTime } = json as Record<string, unknown>;
  return {
    eventId: identityField(eventId),
    eventType: identityField(eventType),
    eventTime: identityField(eventTime),
  };
}

export function createGate(options: GateOptions = {}): Gate {
  const now = options.now ?? Date.now;
  const latenessMs = (options.allowedLatenessMinutes ?? DEFAULT_ALLOWED_LATENESS_MINUTES) * 60_000;
  const checkContract = contractCheck(options.engine ?? 'compiled');
  const eventTime = new EventTimeParser();
  const dedup = new PartitionedDedup(options.dedupWindow ?? DEFAULT_DEDUP_WINDOW);
  const suites = new Map<string, readonly CompiledRule[]>(
    Object.entries(options.suites ?? DEFAULT_SUITES).map(([type, rules]) => [type, rules.map(compileRule)]),
  );
  const context: RuleContext = {
    dimensions: dimensionSets(options.dimensions ?? buildDimensions()),
    clockSkewMs: (options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS) * 1000,
    arrivalMs: 0,
    eventTimeMs: 0,
  };

  /** Every failed rule of the suite; undefined when none failed (most records: no allocation). */
  function expectations(event: TidewaterEvent): RuleFailure[] | undefined {
    let failures: RuleFailure[] | undefined;
    const suite = suites.get(event.eventType);
    if (suite === undefined) return undefined;
    for (let i = 0; i < suite.length; i++) {
      const compiled = suite[i] as CompiledRule;
      const message = evaluate(compiled, event, context);
      if (message === undefined) continue;
      failures ??= [];
      failures.push({ ruleId: compiled.rule.id, severity: compiled.rule.severity, message });
    }
    return failures;
  }

  function run(batch: readonly RawMessage[]): GateResult {
    const at = now();
    const tally = new Tally();
    const accepted: AcceptedRecord[] = [];
    const rejected: RejectedRecord[] = [];
    const duplicateRecords: DuplicateRecord[] = [];
    const reject = (source: RawMessage, json: unknown, failures: RuleFailure[]) => {
      const record: RejectedRecord = { source, ...identity(json), failures, rejectedAt: at };
      rejected.push(record);
      tally.rejected(record.eventType, failures);
    };
    let first = Number.POSITIVE_INFINITY;
    let last = Number.NEGATIVE_INFINITY;

    for (const source of batch) {
      // A producer's clock can stamp CreateTime in the future; the gate's clock bounds it.
      const arrival = Math.min(source.timestamp, at);
      if (arrival < first) first = arrival;
      if (arrival > last) last = arrival;

      const json = source.value === null ? TOMBSTONE : parseRecord(source.value);
      if (json instanceof RecordProblem) {
        reject(source, undefined, [{ ruleId: json.rule, severity: 'quarantine', message: json.message }]);
        continue;
      }
      const event = checkContract(json);
      if (event instanceof ContractViolation) {
        const message = event.issues.join('; ');
        reject(source, json, [{ ruleId: GATE_RULES.contract, severity: 'quarantine', message }]);
        continue;
      }
      context.arrivalMs = arrival;
      context.eventTimeMs = eventTime.parse(event.eventTime);
      const unstorable = storableProblem(event, context.eventTimeMs);
      if (unstorable !== undefined) {
        reject(source, event, [{ ruleId: GATE_RULES.storable, severity: 'quarantine', message: unstorable }]);
        continue;
      }
      const failures = expectations(event);
      if (failures !== undefined && quarantines(failures)) {
        reject(source, event, failures);
        continue;
      }
      // Checked after the rules so that only accepted ids enter the window: a rejected record
      // replayed after a fix must not count as a duplicate (and a copy of it is rejected again).
      if (!dedup.window(source).add(event.eventId)) {
        duplicateRecords.push({ source, eventId: event.eventId, eventType: event.eventType });
        tally.duplicate(event.eventType);
        continue;
      }
      const late = arrival - context.eventTimeMs > latenessMs;
      const warnings = failures ?? NO_WARNINGS;
      accepted.push({ source, event, eventTimeMs: context.eventTimeMs, late, warnings });
      tally.accepted(event.eventType, late, warnings);
    }

    const report: BatchReport = {
      kind: 'batch',
      at,
      arrival: batch.length === 0 ? null : { from: first, to: last },
      ...tally.toCounts(),
    };
    options.metrics?.observeBatch(report);
    return { accepted, rejected, duplicates: duplicateRecords.length, duplicateRecords, report };
  }

  function remember(eventIds: Iterable<string>, partition: PartitionRef): void {
    const window = dedup.window(partition);
    for (const eventId of eventIds) window.add(eventId);
  }

  function rememberBits(bits: Uint32Array, partition: PartitionRef): void {
    const window = dedup.window(partition);
    for (let at = 0; at < bits.length; at += 4) window.addBits(bits, at);
  }

  function setDimensions(dimensions: Dimensions): void {
    context.dimensions = dimensionSets(dimensions);
  }

  return { run, remember, rememberBits, setDimensions };
}
