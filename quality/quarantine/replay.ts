// Re-validates quarantined records with the current rules and republishes those that now pass to
// the events topic, byte for byte under their original key, so downstream sees the same eventId.
import { BatchingProducer, createKafka, type KafkaConfig } from '../../kafka/index.ts';
import { createGate, type Gate } from '../gate.ts';
import type { RawMessage, RuleFailure } from '../types.ts';
import type { QuarantineFilter } from './filter.ts';
import { type QuarantinedRecord, type QuarantineStore, type SourceCursor, toRawMessage } from './store.ts';

export type ValidationResult = { ok: true } | { ok: false; failures: RuleFailure[] };
/** The current rules, applied to one message as it first arrived. */
export type Validator = (raw: RawMessage) => ValidationResult | Promise<ValidationResult>;

export interface ReplayCounts {
  /** Records matching the filter. */
  selected: number;
  /** Passed and acknowledged by Kafka in this replay (in a dry run: would be). */
  republished: number;
  stillFailing: number;
  /** Skipped: an earlier replay already republished them. */
  alreadyReplayed: number;
}

export interface ReplayProgress extends ReplayCounts {
  /** Records validated so far. */
  processed: number;
}

export interface ReplayOptions {
  store: QuarantineStore;
  filter?: QuarantineFilter;
  validate: Validator;
  /** A producer on the events topic; null for a dry run that validates and counts only. */
  producer: BatchingProducer | null;
  /** Records read, validated and sent per step; each step is one produce request. */
  pageSize?: number;
  onProgress?: (progress: ReplayProgress) => void;
}

/**
 * The current rules as replay applies them. A record the gate counts as a duplicate of one
 * accepted earlier in the same replay is not sent again.
 */
export function gateValidator(gate: Gate): Validator {
  return (raw) => {
    const result = gate.run([raw]);
    if (result.accepted.length > 0) return { ok: true };
    const [rejected] = result.rejected;
    return {
      ok: false,
      failures: rejected?.failures ?? [
        { ruleId: 'duplicate', severity: 'quarantine', message: 'eventId already accepted in this replay' },
      ],
    };
  };
}

async function passing(records: QuarantinedRecord[], validate: Validator): Promise<QuarantinedRecord[]> {
  const out: QuarantinedRecord[] = [];
  // A message that had no value cannot be sent again as it came, whatever the rules say now.
  for (const r of records) if (r.original !== null && (await validate(toRawMessage(r))).ok) out.push(r);
  return out;
}

/**
 * Each page's passing records are recorded in the store's replay ledger only after Kafka
 * acknowledged them, so a later replay skips them. A crash between the acknowledgement and the
 * ledger write republishes that page once more: downstream removes those by eventId.
 */
export async function replayQuarantine(opts: ReplayOptions): Promise<ReplayCounts> {
  const { store, filter = {}, validate, producer, pageSize = 500, onProgress } = opts;
  const progress: ReplayProgress = {
    ...(await store.replayCounts(filter)),
    republished: 0,
    stillFailing: 0,
    processed: 0,
  };
  let cursor: SourceCursor | undefined;
  for (;;) {
    const page = await store.replayPage(filter, cursor, pageSize);
    const last = page.at(-1);
    if (!last) break;
    cursor = last.source;
    const ok = await passing(page, validate);
    if (producer && ok.length > 0) {
      await producer.sendNow(ok.map((r) => ({ key: r.key, value: r.original as Buffer })));
      const replayedAt = new Date().toISOString();
      await store.ledger.record(
        ok.map((r) => ({
          sourceTopic: r.source.topic,
          sourcePartition: r.source.partition,
          sourceOffset: r.source.offset,
          eventId: r.eventId,
          replayedAt,
        })),
      );
    }
    progress.processed += page.length;
    progress.republished += ok.length;
    progress.stillFailing += page.length - ok.length;
    onProgress?.({ ...progress });
  }
  const { processed: _, ...counts } = progress;
  return counts;
}

export interface ReplayRunOptions extends Pick<ReplayOptions, 'store' | 'filter' | 'onProgress'> {
  cfg: KafkaConfig & { eventsTopic: string; allowedLatenessMinutes: number };
  /** Validate and count only; send nothing. */
  dryRun?: boolean;
}

/**
 * A replay as the CLI and the replay job run it: the current gate's rules, and a producer on the
 * events topic (none in a dry run) that lives as long as the replay.
 */
export async function replayWithCurrentRules(
  opts: ReplayRunOptions,
): Promise<ReplayCounts & { dryRun: boolean }> {
  const { cfg, dryRun = false, ...rest } = opts;
  const producer = dryRun
    ? null
    : new BatchingProducer(createKafka(cfg, 'replay'), { topic: cfg.eventsTopic });
  await producer?.connect();
  try {
    const validate = gateValidator(createGate({ allowedLatenessMinutes: cfg.allowedLatenessMinutes }));
    return { dryRun, ...(await replayQuarantine({ ...rest, validate, producer })) };
  } finally {
    await producer?.disconnect();
  }
}
