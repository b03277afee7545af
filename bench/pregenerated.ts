// Generated records built before a timed run, so a load generator spends its CPU on producing, not
// on building events: in one contiguous buffer, since a million retained record objects would make
// the collector, not the producer, the bottleneck.
import type { GeneratedRecord } from '../generator/index.ts';
import type { OutgoingRecord } from '../kafka/index.ts';

export class Pregenerated {
  private readonly values: Buffer;
  private readonly ends: Uint32Array;
  private readonly keys: string[];
  /** Per record: how many records up to and including it `mark` picked. */
  private readonly marks: Uint32Array;
  readonly count: number;
  readonly bytes: number;

  constructor(records: Iterable<GeneratedRecord>, capacity: number, mark?: (r: GeneratedRecord) => boolean) {
    this.values = Buffer.allocUnsafe(capacity * 1024);
    this.ends = new Uint32Array(capacity);
    this.marks = new Uint32Array(capacity);
    this.keys = new Array(capacity);
    let bytes = 0;
    let marked = 0;
    let n = 0;
    for (const r of records) {
      if (n === capacity) break;
      if (bytes + r.value.length > this.values.length)
        throw new Error(`generated records average over 1 KiB: ${n} records filled the buffer`);
      bytes += r.value.copy(this.values, bytes);
      if (mark?.(r)) marked++;
      this.ends[n] = bytes;
      this.marks[n] = marked;
      this.keys[n++] = r.key;
    }
    this.count = n;
    this.bytes = bytes;
  }

  record(i: number): OutgoingRecord {
    return {
      key: this.keys[i] as string,
      value: this.values.subarray(i === 0 ? 0 : this.ends[i - 1], this.ends[i]),
    };
  }

  /** Marked records among the first `n`. */
  markedBefore(n: number): number {
    return n === 0 ? 0 : (this.marks[n - 1] as number);
  }
}
