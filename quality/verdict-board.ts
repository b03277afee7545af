// One gate verdict per event in a process that runs both layers. The speed layer gates each range
// of the events topic as it arrives and posts what its gate decided here; the lake writer, reading
// the same partitions later under its own consumer group, takes those verdicts instead of parsing
// and judging the records again, so both sinks get the same decision (a refreshed dimension, the
// clock, a dedup window cannot make them differ) and the process parses each event once.
//
// A verdict is kept in typed arrays, no object per record, so that holding a few seconds of the
// topic costs the collector nothing: per record its offset, outcome, event type, event time, id
// bits (for the taker's own dedup window) and, in maps, the rare rest (warnings, the rejection's
// failures, the event's JSON where the bytes do not spell it exactly). The board holds a bounded
// number of records in memory and, given a spill, the older ones on disk (verdict-spill.ts), ~34
// bytes each: a lake writer that falls behind under load then still takes every verdict, which
// costs it a fraction of gating the range itself, rather than falling further behind for gating.
// A taker further behind than both hold, or one that meets a record the poster never gated (the
// speed layer restarted elsewhere in the topic), judges the range itself as before.
import { EVENT_TYPES, spellsExactly, type TidewaterEvent } from '../contracts/index.ts';
import type { DuplicateRecord, GateResult } from './gate.ts';
import { type BatchReport, Tally } from './report.ts';
import type { AcceptedRecord, RawMessage, RejectedRecord, RuleFailure } from './types.ts';
import { parseUuid } from './uuid.ts';
import { type SpillRef, VerdictSpill } from './verdict-spill.ts';

/** Records held in memory by default: ~34 bytes each, so ~34 MB, about 20 s of the topic at 50,000 events/s. */
export const DEFAULT_VERDICT_BOARD_RECORDS = 1_000_000;
/**
 * How long a taker waits for verdicts the poster has not made yet. Both consumers fetch the same
 * records within a fetch's linger of each other; the lake's data waits up to a minute for its
 * commit anyway, so waiting a moment costs a reader nothing and spares parsing the range again.
 */
export const DEFAULT_VERDICT_WAIT_MS = 2_000;

export interface VerdictBoardOptions {
  /** Records held in memory at most, all partitions together. */
  capacity?: number;
  /**
   * Where the records memory cannot hold go, and how many bytes of them at most (~34 a record);
   * without it they are let go.
   */
  spill?: { dir: string; maxBytes: number };
  /** How long `take` waits for the poster to reach a range (0: not at all). */
  waitMs?: number;
}

const ACCEPTED = 0;
const REJECTED = 1;
const DUPLICATE = 2;
const OUTCOME = 3;
const LATE = 4;

/** Accepted and duplicate records passed the contract: their type is one of these. */
const TYPE_INDEX: ReadonlyMap<string, number> = new Map(EVENT_TYPES.map((type, i) => [type, i]));

const NO_WARNINGS: readonly RuleFailure[] = Object.freeze([]);

type Rejection = Pick<RejectedRecord, 'eventId' | 'eventType' | 'eventTime' | 'failures'>;

/** What the board knows of a posted range wherever its verdicts are. */
interface Held {
  readonly key: string;
  readonly first: number;
  readonly last: number;
  /** Records. */
  readonly count: number;
  /** When the poster's gate ran (rejections keep it as their time). */
  readonly at: number;
}

/** A range's verdicts on disk. */
interface Spilled extends Held {
  readonly ref: SpillRef;
}

/**
 * The verdicts of one posted range, record by record in offset order. The typed arrays share one
 * buffer (`block`), which is what a spill writes.
 */
interface Segment extends Held {
  readonly block: Uint8Array;
  readonly offsets: Float64Array;
  /** Outcome (low bits) and LATE. */
  readonly status: Uint8Array;
  readonly types: Uint8Array;
  readonly eventTimeMs: Float64Array;
  /** 4 words per record, accepted records' ids. */
  readonly ids: Uint32Array;
  readonly warnings: Map<number, readonly RuleFailure[]>;
  readonly canonical: Map<number, string>;
  readonly rejections: Map<number, Rejection>;
  readonly duplicateIds: Map<number, string>;
}

/** An accepted record rebuilt from a verdict: what sinks read is carried, the event parsed on demand. */
class VerdictRecord implements AcceptedRecord {
  private parsed: TidewaterEvent | undefined;

  constructor(
    readonly source: RawMessage,
    readonly eventTimeMs: number,
    readonly late: boolean,
    readonly warnings: readonly RuleFailure[],
    readonly canonical: string | null,
  ) {}

  /**
   * The validated event: the record's own bytes where they spell it exactly, else its JSON. Only the
   * rare paths read it (a sink refusing the record names it in quarantine).
   */
  get event(): TidewaterEvent {
    this.parsed ??= JSON.parse(this.canonical ?? (this.source.value as Buffer).toString('utf8'));
    return this.parsed as TidewaterEvent;
  }
}

/** A range judged from the board: the gate's result, and the accepted ids for the taker's window. */
export interface TakenVerdict {
  result: GateResult;
  /** 4 words per accepted record, in order. */
  acceptedIds: Uint32Array;
}

export interface VerdictBoardStats {
  /** Records whose verdict was posted. */
  posted: number;
  /**
   * Records the poster gated but the board did not keep: the taker was too far behind to reach them
   * (or the gate's result did not account for every record).
   */
  skipped: number;
  /** Records a taker got from the board. */
  taken: number;
  /** Records whose verdicts went to the spill (memory could not hold them). */
  spilled: number;
  /** Records of ranges the board did not cover, which the taker judged itself. */
  missed: number;
}

const keyOf = ({ topic, partition }: RawMessage): string => `${topic}\u0000${partition}`;

/** Bytes of a segment's typed arrays per record: offset, event time, id, outcome, type. */
const RECORD_BYTES = 8 + 8 + 16 + 1 + 1;

/** A segment's typed arrays over one buffer of `count` records (a fresh one, or one read back). */
function segmentArrays(buffer: ArrayBuffer, count: number) {
  return {
    block: new Uint8Array(buffer, 0, RECORD_BYTES * count),
    offsets: new Float64Array(buffer, 0, count),
    eventTimeMs: new Float64Array(buffer, 8 * count, count),
    ids: new Uint32Array(buffer, 16 * count, 4 * count),
    status: new Uint8Array(buffer, 32 * count, count),
    types: new Uint8Array(buffer, 33 * count, count),
  };
}

type RareMaps = Pick<Segment, 'warnings' | 'canonical' | 'rejections' | 'duplicateIds'>;
const RARE: readonly (keyof RareMaps)[] = ['warnings', 'canonical', 'rejections', 'duplicateIds'];

/** A segment as a spill writes it: its block, then its rare maps as JSON (none when all are empty). */
function spillParts(segment: Segment): Uint8Array[] {
  if (RARE.every((m) => segment[m].size === 0)) return [segment.block];
  return [segment.block, Buffer.from(JSON.stringify(RARE.map((m) => [...segment[m]])))];
}

/** A spilled segment from the bytes `spillParts` wrote (in a buffer of their own). */
function readSpilled({ key, first, last, count, at }: Spilled, bytes: Buffer): Segment {
  const blockBytes = RECORD_BYTES * count;
  const rare: [number, never][][] =
    bytes.length > blockBytes ? JSON.parse(bytes.toString('utf8', blockBytes)) : RARE.map(() => []);
  const [warnings, canonical, rejections, duplicateIds] = rare.map((entries) => new Map(entries));
  return {
    key,
    first,
    last,
    count,
    at,
    ...segmentArrays(bytes.buffer as ArrayBuffer, count),
    warnings: warnings as RareMaps['warnings'],
    canonical: canonical as RareMaps['canonical'],
    rejections: rejections as RareMaps['rejections'],
    duplicateIds: duplicateIds as RareMaps['duplicateIds'],
  };
}

const isSpilled = (held: Segment | Spilled): held is Spilled => 'ref' in held;

export class VerdictBoard {
  /** Per partition, what the board holds (in memory or spilled), in offset order. */
  private readonly byKey = new Map<string, (Segment | Spilled)[]>();
  /** Segments in memory, in the order they were posted: the oldest go first when memory is full. */
  private readonly posted = new Set<Segment>();
  /** Segments spilled, oldest first: the oldest go first when the spill is full. */
  private readonly spilled = new Set<Spilled>();
  /** Records in memory. */
  private held = 0;
  private readonly spillFailures = { count: 0, saidAt: Number.NEGATIVE_INFINITY };
  private readonly counts: VerdictBoardStats = { posted: 0, skipped: 0, taken: 0, missed: 0, spilled: 0 };
  /** Per partition: the last offset the poster has gated, kept or not. */
  private readonly postedUpTo = new Map<string, number>();
  /** Per partition: the last offset the taker has asked for. */
  private readonly takenUpTo = new Map<string, number>();
  /** Partitions whose poster let a taker wait in vain: no waiting there until it posts again. */
  private readonly stalled = new Set<string>();
  private readonly waiting = new Map<string, Set<() => void>>();
  private readonly capacity: number;
  private readonly waitMs: number;
  private readonly spill: { store: VerdictSpill; maxBytes: number } | undefined;
  /** Records the board can hold, memory and spill together (the spill's ~34 bytes a record). */
  private readonly reach: number;

  constructor({
    capacity = DEFAULT_VERDICT_BOARD_RECORDS,
    waitMs = DEFAULT_VERDICT_WAIT_MS,
    spill,
  }: VerdictBoardOptions = {}) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('a verdict board holds >= 1 record');
    if (spill && !(spill.maxBytes >= 0)) throw new RangeError('a verdict spill holds >= 0 bytes');
    this.capacity = capacity;
    this.waitMs = waitMs;
    this.spill =
      spill && spill.maxBytes > 0
        ? { store: new VerdictSpill(spill.dir), maxBytes: spill.maxBytes }
        : undefined;
    this.reach = capacity + Math.floor((this.spill?.maxBytes ?? 0) / RECORD_BYTES);
  }

  get stats(): VerdictBoardStats {
    return { ...this.counts };
  }

  /** Records held in memory now. */
  get size(): number {
    return this.held;
  }

  /** Bytes of verdicts spilled and held now. */
  get spilledBytes(): number {
    return this.spill?.store.bytes ?? 0;
  }

  /** Lets go of everything held, the spill's files included. */
  close(): void {
    for (const segment of [...this.posted, ...this.spilled]) this.remove(segment);
    this.spill?.store.close();
  }

  /**
   * Keeps the verdicts `result` gives the records of `batch` (one partition's range, in offset
   * order, as the gate ran it). A range posted again (the poster redid it) replaces what the board
   * held for its offsets.
   */
  post(batch: readonly RawMessage[], result: GateResult): void {
    const n = batch.length;
    const head = batch[0];
    if (head === undefined) return;
    const key = keyOf(head);
    const first = Number(head.offset);
    const last = Number((batch[n - 1] as RawMessage).offset);
    this.postedUpTo.set(key, Math.max(last, this.postedUpTo.get(key) ?? last));
    this.stalled.delete(key);
    // A taker further behind than its partition's share of the board would find these gone.
    const taker = this.takenUpTo.get(key);
    if (taker !== undefined && first - taker > this.reach / Math.max(1, this.takenUpTo.size)) {
      this.counts.skipped += n;
      this.wake(key);
      return;
    }
    const { accepted, rejected, duplicateRecords } = result;
    const segment: Segment = {
      key,
      first,
      last,
      count: n,
      at: result.report.at,
      ...segmentArrays(new ArrayBuffer(RECORD_BYTES * n), n),
      warnings: new Map(),
      canonical: new Map(),
      rejections: new Map(),
      duplicateIds: new Map(),
    };
    let a = 0;
    let r = 0;
    let d = 0;
    // The gate lists each outcome in batch order, holding the batch's own messages.
    for (let i = 0; i < n; i++) {
      const source = batch[i] as RawMessage;
      segment.offsets[i] = Number(source.offset);
      const taken = accepted[a];
      if (taken?.source === source) {
        a++;
        const { event } = taken;
        segment.status[i] = taken.late ? ACCEPTED | LATE : ACCEPTED;
        segment.types[i] = TYPE_INDEX.get(event.eventType) as number;
        segment.eventTimeMs[i] = taken.eventTimeMs;
        parseUuid(event.eventId, segment.ids, 4 * i);
        if (taken.warnings.length > 0) segment.warnings.set(i, taken.warnings);
        if (!spellsExactly(source.value as Buffer, event)) segment.canonical.set(i, JSON.stringify(event));
        continue;
      }
      const refused = rejected[r];
      if (refused?.source === source) {
        r++;
        segment.status[i] = REJECTED;
        const { eventId, eventType, eventTime, failures } = refused;
        segment.rejections.set(i, { eventId, eventType, eventTime, failures });
        continue;
      }
      const duplicate: DuplicateRecord | undefined = duplicateRecords[d];
      if (duplicate?.source === source) {
        d++;
        segment.status[i] = DUPLICATE;
        segment.types[i] = TYPE_INDEX.get(duplicate.eventType) as number;
        segment.duplicateIds.set(i, duplicate.eventId);
        continue;
      }
      // A result that leaves a record out is not one to hand on; the poster's own range goes on
      // (the board must never fail the layer that posts), and the taker gates these itself.
      this.counts.skipped += n;
      this.wake(key);
      return;
    }
    this.add(segment);
    this.counts.posted += n;
    this.wake(key);
  }

  /**
   * The verdicts of every record of `batch` (one partition's range, in offset order), or undefined
   * when the board lacks any of them: the caller then gates the range itself. Waits up to `waitMs`
   * for a poster that has not reached the range yet. Segments before the batch are let go (the
   * taker is past them), and so are those it used up.
   */
  async take(batch: readonly RawMessage[]): Promise<TakenVerdict | undefined> {
    const head = batch[0];
    if (head === undefined) return undefined;
    const key = keyOf(head);
    const firstOffset = Number(head.offset);
    const lastOffset = Number((batch[batch.length - 1] as RawMessage).offset);
    this.takenUpTo.set(key, lastOffset);
    const deadline = performance.now() + this.waitMs;
    for (;;) {
      const segments = this.byKey.get(key);
      while (segments?.[0] && segments[0].last < firstOffset) this.remove(segments[0]);
      const taken = segments && this.read(batch, segments);
      if (taken !== undefined) {
        while (segments?.[0] && segments[0].last <= lastOffset) this.remove(segments[0]);
        this.counts.taken += batch.length;
        return taken;
      }
      const reached = (this.postedUpTo.get(key) ?? Number.NEGATIVE_INFINITY) >= lastOffset;
      const left = deadline - performance.now();
      if (reached || left <= 0 || this.stalled.has(key)) {
        if (!reached && left <= 0) this.stalled.add(key);
        this.counts.missed += batch.length;
        return undefined;
      }
      await this.nextPost(key, left);
    }
  }

  /** Resolves at the next post for `key`, or after `ms`. */
  private nextPost(key: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let waiters = this.waiting.get(key);
      if (!waiters) {
        waiters = new Set();
        this.waiting.set(key, waiters);
      }
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      waiters.add(done);
    });
  }

  private wake(key: string): void {
    const waiters = this.waiting.get(key);
    if (!waiters) return;
    for (const done of [...waiters]) done();
  }

  private read(batch: readonly RawMessage[], held: readonly (Segment | Spilled)[]): TakenVerdict | undefined {
    const tally = new Tally();
    const accepted: AcceptedRecord[] = [];
    const rejected: RejectedRecord[] = [];
    const duplicateRecords: DuplicateRecord[] = [];
    const ids = new Uint32Array(4 * batch.length);
    let from = Number.POSITIVE_INFINITY;
    let to = Number.NEGATIVE_INFINITY;
    let s = 0;
    let j = 0;
    let segment: Segment | undefined;
    for (const source of batch) {
      const offset = Number(source.offset);
      while (held[s] && offset > (held[s] as Held).last) {
        s++;
        segment = undefined;
        j = 0;
      }
      const at = held[s];
      if (!at || offset < at.first) return undefined;
      segment ??= this.load(at);
      if (!segment) return undefined;
      const { offsets } = segment;
      while (j < offsets.length && (offsets[j] as number) < offset) j++;
      if (offsets[j] !== offset) return undefined;
      const arrival = Math.min(source.timestamp, segment.at);
      if (arrival < from) from = arrival;
      if (arrival > to) to = arrival;
      const status = segment.status[j] as number;
      const type = EVENT_TYPES[segment.types[j] as number] as string;
      switch (status & OUTCOME) {
        case ACCEPTED: {
          const late = (status & LATE) !== 0;
          const warnings = segment.warnings.get(j) ?? NO_WARNINGS;
          const record = new VerdictRecord(
            source,
            segment.eventTimeMs[j] as number,
            late,
            warnings,
            segment.canonical.get(j) ?? null,
          );
          // Word by word: a subarray view per record would be an allocation per record.
          for (let w = 0; w < 4; w++) ids[4 * accepted.length + w] = segment.ids[4 * j + w] as number;
          accepted.push(record);
          tally.accepted(type, late, warnings);
          break;
        }
        case REJECTED: {
          const rejection = segment.rejections.get(j) as Rejection;
          rejected.push({ source, ...rejection, rejectedAt: segment.at });
          tally.rejected(rejection.eventType, rejection.failures);
          break;
        }
        default: {
          duplicateRecords.push({
            source,
            eventId: segment.duplicateIds.get(j) as string,
            eventType: type as TidewaterEvent['eventType'],
          });
          tally.duplicate(type);
        }
      }
    }
    const report: BatchReport = {
      kind: 'batch',
      at: Date.now(),
      arrival: { from, to },
      ...tally.toCounts(),
    };
    return {
      result: { accepted, rejected, duplicates: duplicateRecords.length, duplicateRecords, report },
      acceptedIds: ids.subarray(0, 4 * accepted.length),
    };
  }

  private add(segment: Segment): void {
    let segments = this.byKey.get(segment.key);
    if (!segments) {
      segments = [];
      this.byKey.set(segment.key, segments);
    }
    for (const held of segments.filter((h) => h.first <= segment.last && h.last >= segment.first))
      this.remove(held);
    let at = segments.length;
    while (at > 0 && (segments[at - 1] as Held).first > segment.first) at--;
    segments.splice(at, 0, segment);
    this.posted.add(segment);
    this.held += segment.count;
    for (const oldest of this.posted) {
      if (this.held <= this.capacity) break;
      this.evict(oldest);
    }
  }

  /** Takes a segment out of memory: to the spill when there is one, else it is let go. */
  private evict(segment: Segment): void {
    const spill = this.spill;
    let ref: SpillRef | undefined;
    try {
      ref = spill?.store.write(spillParts(segment));
    } catch (error) {
      // A full or failing disk costs the taker its verdicts (it gates the range), never the poster.
      this.spillFailed("a range's verdicts not spilled, let go", error);
    }
    if (!spill || !ref) {
      this.remove(segment);
      return;
    }
    const { key, first, last, count, at } = segment;
    const spilled: Spilled = { key, first, last, count, at, ref };
    const segments = this.byKey.get(key) as (Segment | Spilled)[];
    segments[segments.indexOf(segment)] = spilled;
    this.posted.delete(segment);
    this.held -= count;
    this.spilled.add(spilled);
    this.counts.spilled += count;
    for (const oldest of this.spilled) {
      if (spill.store.bytes <= spill.maxBytes) break;
      this.remove(oldest);
    }
  }

  /** A held range's verdicts, read back when spilled; undefined when the spill cannot. */
  private load(held: Segment | Spilled): Segment | undefined {
    if (!isSpilled(held)) return held;
    try {
      return readSpilled(held, (this.spill as { store: VerdictSpill }).store.read(held.ref));
    } catch (error) {
      this.spillFailed('spilled verdicts not read back, the range is gated again', error);
      return undefined;
    }
  }

  /** Says what failed, at most once a minute: a failing disk fails every range it is asked for. */
  private spillFailed(what: string, error: unknown): void {
    this.spillFailures.count++;
    const now = performance.now();
    if (now - this.spillFailures.saidAt < 60_000) return;
    this.spillFailures.saidAt = now;
    console.error(
      `verdict board: ${what} (${this.spillFailures.count} spill failures so far): ${(error as Error).message}`,
    );
  }

  private remove(held: Segment | Spilled): void {
    if (isSpilled(held)) {
      if (!this.spilled.delete(held)) return;
      this.spill?.store.release(held.ref);
    } else {
      if (!this.posted.delete(held)) return;
      this.held -= held.count;
    }
    const segments = this.byKey.get(held.key);
    const at = segments?.indexOf(held) ?? -1;
    if (at >= 0) segments?.splice(at, 1);
    if (segments?.length === 0) this.byKey.delete(held.key);
  }
}
