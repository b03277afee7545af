// One assigned partition's way through its log, from the moment it is assigned:
//  1. history: the records before the committed offset (up to the dedup lookback) go through a
//     fresh gate and are discarded, which rebuilds the gate's eventId window exactly as it stood;
//  2. pending: if the commit announced a range that never got committed, that range is gathered
//     (across fetches if need be) and delivered again under the same token: ClickHouse drops the
//     insert if it had landed, and the rows are identical because gate and records are (or, for
//     a grouped insert, because the group's block was staged; see delivery.ts);
//  3. live: the rest in chunks of at most `maxRecords`, each announced in the offset commit before
//     its insert and committed after it (delivery.ts).
// Any failure poisons the worker (its gate has moved past the records): the consumer drops it and
// the next fetch starts over from the committed offset.
import type { RawMessage } from '../quality/index.ts';
import type { Delivery, PartitionControl } from './delivery.ts';
import type { PartitionGate } from './gates.ts';
import type { PendingRange } from './offset-range.ts';
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

export interface PartitionWorkerOptions<P> {
  partition: number;
  start: PartitionStart;
  gate: PartitionGate<P>;
  delivery: Delivery<P>;
  watermark: EventTimeWatermark;
  maxRecords: number;
  /** Told the number of records of each range delivered (replayed ones included). */
  onDelivered(records: number): void;
}

export class PartitionWorker<P> {
  /** Next offset this worker expects; records below it were already handled. */
  private position: number;
  private pending: PendingRange | undefined;
  private gathered: RawMessage[] = [];
  private rewound = false;

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

  async handle(messages: readonly RawMessage[], control: PartitionControl): Promise<void> {
    let i = 0;
    while (i < messages.length && Number((messages[i] as RawMessage).offset) < this.position) i++;

    const historyEnd = this.takeWhile(messages, i, (offset) => offset < this.o.start.committed);
    if (historyEnd > i) {
      await this.o.gate.replay(messages.slice(i, historyEnd));
      this.advance(messages, historyEnd, control);
      i = historyEnd;
    }

    const pending = this.pending;
    if (pending) {
      const end = this.takeWhile(messages, i, (offset) => offset <= pending.last);
      for (let k = i; k < end; k++) this.gathered.push(messages[k] as RawMessage);
      if (end > i) this.advance(messages, end, control);
      i = end;
      if (this.position <= pending.last) return;
      this.observe(await this.o.delivery.pending(pending, this.hand(this.gathered, control)));
      this.o.onDelivered(this.gathered.length);
      this.gathered = [];
      this.pending = undefined;
    }

    while (i < messages.length && control.proceed()) {
      const chunk = messages.slice(i, i + this.o.maxRecords);
      const range = { first: Number(chunk[0]?.offset), last: Number(chunk[chunk.length - 1]?.offset) };
      this.observe(await this.o.delivery.live(range, this.hand(chunk, control)));
      this.o.onDelivered(chunk.length);
      i += chunk.length;
      this.advance(messages, i, control);
      await control.heartbeat();
    }
  }

  /** Frees the gate: the worker is done with (revoked, or poisoned by a failure). */
  close(): void {
    this.o.gate.close();
  }

  private hand(records: readonly RawMessage[], control: PartitionControl) {
    return { gate: this.o.gate, partition: this.o.partition, records, control };
  }

  private observe(newest: number | undefined): void {
    if (newest !== undefined) this.o.watermark.observe(newest);
  }

  /** Index of the first record from `from` whose offset fails `test`. */
  private takeWhile(
    messages: readonly RawMessage[],
    from: number,
    test: (offset: number) => boolean,
  ): number {
    let end = from;
    while (end < messages.length && test(Number((messages[end] as RawMessage).offset))) end++;
    return end;
  }

  /** Records before `end` are handled: fetch on from the one after. */
  private advance(messages: readonly RawMessage[], end: number, control: PartitionControl): void {
    const last = (messages[end - 1] as RawMessage).offset;
    this.position = Number(last) + 1;
    control.resolveOffset(last);
  }
}
