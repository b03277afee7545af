// One assigned partition's way through its log, from the moment it is assigned:
//  1. history: the records before the committed offset (up to the dedup lookback) go through a
//     fresh gate and are discarded, which rebuilds the gate's eventId window exactly as it stood;
//  2. pending: if the commit announced a range that never got committed, that range is gathered
//     (across fetches if need be) and delivered again under the same token: ClickHouse drops the
//     insert if it had landed, and the rows are identical because gate and records are (or, for
//     a grouped insert, because the group's block was staged; see delivery.ts);
//  3. live: the rest in chunks of at most `maxRecords`, each announced in the offset commit before
//     its insert and committed after it (delivery.ts). Up to `maxInFlight` of them are on their
//     way at once: the worker gates the next while the previous is in the sink, and returns to
//     Kafka for more once its chunks are handed over, so fetching, gating and inserting overlap.
// Any failure ends the worker's lane (its gate has moved past records that were not committed):
// its later ranges are dropped, the consumer replaces it, and the new worker starts over from the
// committed offset.
import type { FetchedRecords } from '../kafka/index.ts';
import type { RawMessage } from '../quality/index.ts';
import type { Delivery, InFlight, Lane } from './delivery.ts';
import type { PartitionGate } from './gates.ts';
import type { OffsetRange, PendingRange } from './offset-range.ts';
import type { PartitionQuarantine } from './sink.ts';
import type { EventTimeWatermark } from './watermark.ts';

/** Where an assigned partition stands in Kafka. */
export interface PartitionStart {
  /** The committed offset: the next record to deliver. */
  committed: number;
  /** First record to re-gate for the dedup window (committed minus lookback, not below the log start). */
  replayFrom: number;
  /** Announced by the last commit and not yet committed. */
  pending?: PendingRange;
}

/** The fetch in hand's handles on the consumer. */
export interface FetchControl {
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
  /** False once the consumer stops or the partition is being revoked: stop after the chunk in hand. */
  proceed(): boolean;
}

export interface PartitionWorkerOptions<P> {
  partition: number;
  start: PartitionStart;
  /** The worker's hold on its partition; whoever ends it (a rebalance) ends the worker. */
  lane: Lane;
  gate: PartitionGate<P>;
  /** The partition's publisher of rejections, when this consumer publishes them; closed with the worker. */
  quarantine?: PartitionQuarantine;
  delivery: Delivery<P>;
  watermark: EventTimeWatermark;
  maxRecords: number;
  /** Live ranges handed over and not yet committed, at most: bounds the records held in memory. */
  maxInFlight: number;
  /** Told the number of records of each range delivered (replayed ones included). */
  onDelivered(records: number): void;
  /** Told when a range handed over failed: the worker is done, its lane ended. */
  onFailed(range: OffsetRange, error: Error): void;
}

export class PartitionWorker<P> {
  /** Next offset this worker expects; records below it were already handled. */
  private position: number;
  private pending: PendingRange | undefined;
  private gathered: RawMessage[] = [];
  private rewound = false;
  /** Live ranges handed over, each settling (never rejecting) once committed or failed. */
  private readonly inFlight = new Set<Promise<void>>();
  /** Live ranges whose records the delivery still holds (InFlight.released): bounds memory. */
  private readonly holding = new Set<Promise<unknown>>();
  /** Closed by the consumer, or a failure already reported: later failures are its echoes. */
  private done = false;

  constructor(private readonly o: PartitionWorkerOptions<P>) {
    this.position = o.start.replayFrom;
    this.pending = o.start.pending;
  }

  /**
   * The offset to seek to when a fetch starts past the history this worker must re-gate first, once:
   * a gap in the log (records removed by retention) must not make it rewind forever.
   */
  rewindTo(fetchedFrom: number): number | undefined {
    if (this.rewound || this.position >= fetchedFrom) return undefined;
    this.rewound = true;
    return this.position;
  }

  /**
   * Handles a fetched batch; resolves once its live ranges are handed over (not committed). A
   * range's records are made into objects only when it is gated (kafka/fetched-records.ts).
   */
  async handle(records: FetchedRecords, control: FetchControl): Promise<void> {
    this.o.lane.check();
    let i = this.takeWhile(records, 0, (offset) => offset < this.position);

    const historyEnd = this.takeWhile(records, i, (offset) => offset < this.o.start.committed);
    if (historyEnd > i) {
      await this.o.gate.replay(records.slice(i, historyEnd));
      this.advance(records, historyEnd, control);
      i = historyEnd;
    }

    const pending = this.pending;
    if (pending) {
      const end = this.takeWhile(records, i, (offset) => offset <= pending.last);
      if (end > i) {
        for (const record of records.slice(i, end)) this.gathered.push(record);
        this.advance(records, end, control);
      }
      i = end;
      if (this.position <= pending.last) return;
      this.observe(await heartbeating(this.o.delivery.pending(pending, this.hand(this.gathered)), control));
      this.o.onDelivered(this.gathered.length);
      this.gathered = [];
      this.pending = undefined;
    }

    while (i < records.length) {
      await heartbeating(this.room(), control);
      if (!control.proceed()) return;
      const end = Math.min(i + this.o.maxRecords, records.length);
      const range = { first: records.offset(i), last: records.offset(end - 1) };
      this.track(range, end - i, await this.o.delivery.live(range, this.hand(records.slice(i, end))));
      i = end;
      this.advance(records, i, control);
      await control.heartbeat();
    }
  }

  /** Resolves once every range handed over is committed or has failed. */
  async settled(): Promise<void> {
    await Promise.all(this.inFlight);
  }

  /**
   * Ends the worker (revoked, or replaced after a failure): nothing of it is committed from now on.
   * Resolves once its ranges have settled and its quarantine producer is closed.
   */
  async close(reason: Error): Promise<void> {
    this.done = true;
    this.o.lane.end(reason);
    this.o.gate.close();
    await this.settled();
    await this.o.quarantine?.close();
  }

  /**
   * Waits until the delivery holds the records of fewer than maxInFlight ranges; throws once the
   * lane has ended.
   */
  private async room(): Promise<void> {
    while (this.holding.size >= this.o.maxInFlight) await Promise.race(this.holding);
    this.o.lane.check();
  }

  private track(range: OffsetRange, records: number, { committed, released }: InFlight): void {
    const settled: Promise<void> = committed
      .then(
        (newest) => {
          this.observe(newest);
          this.o.onDelivered(records);
        },
        (error: unknown) => {
          const reason = error instanceof Error ? error : new Error(String(error));
          this.o.lane.end(reason);
          if (this.done) return;
          this.done = true;
          this.o.onFailed(range, reason);
        },
      )
      .finally(() => this.inFlight.delete(settled));
    this.inFlight.add(settled);
    const held: Promise<unknown> = (released ?? settled)
      .then(noop, noop)
      .finally(() => this.holding.delete(held));
    this.holding.add(held);
  }

  private hand(records: readonly RawMessage[]) {
    const { gate, partition, lane, quarantine } = this.o;
    return { gate, partition, records, lane, quarantine };
  }

  private observe(newest: number | undefined): void {
    if (newest !== undefined) this.o.watermark.observe(newest);
  }

  /** Index of the first record from `from` whose offset fails `test`. */
  private takeWhile(records: FetchedRecords, from: number, test: (offset: number) => boolean): number {
    let end = from;
    while (end < records.length && test(records.offset(end))) end++;
    return end;
  }

  /** Records before `end` are handled: fetch on from the one after. */
  private advance(records: FetchedRecords, end: number, control: FetchControl): void {
    const last = records.offset(end - 1);
    this.position = last + 1;
    control.resolveOffset(String(last));
  }
}

const noop = () => undefined;

/**
 * kafkajs heartbeats only when a batch handler asks (or between batches): a handler waiting longer
 * than the session timeout for room in the sink (the lake's ranges wait behind its commits, which
 * take seconds on a busy machine) was evicted from the group, and its partitions started over from
 * Kafka's committed offset, a minute of the lake's work redone. So a wait heartbeats every second;
 * kafkajs sends at most one per heartbeat interval, and a heartbeat that learns of a rebalance
 * fails the wait, as after a chunk.
 */
const HEARTBEAT_EVERY_MS = 1_000;

export async function heartbeating<T>(
  waiting: Promise<T>,
  control: Pick<FetchControl, 'heartbeat'>,
): Promise<T> {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const beats = new Promise<never>((_, reject) => {
    const next = () => {
      if (!stopped) timer = setTimeout(() => control.heartbeat().then(next, reject), HEARTBEAT_EVERY_MS);
    };
    next();
  });
  beats.catch(noop);
  try {
    return await Promise.race([waiting, beats]);
  } finally {
    stopped = true;
    clearTimeout(timer);
  }
}
