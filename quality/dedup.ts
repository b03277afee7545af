// The "seen" window of duplicate removal: the last N accepted eventIds of each source partition.
// Keyed by partition because the message key is the userId, so a duplicate lands in its original's
// partition, and a partition's window is then a function of that partition's log alone: after a
// restart a consumer rebuilds it from the log (or the sink) before the committed offset.
//
// eventIds are contract UUIDs, so the window keeps their 128 bits in typed arrays rather than a
// Set of strings: ~24 bytes an id instead of ~90, exact (no hashing down), and nothing for the
// garbage collector to trace, which at a million remembered ids is most of the gate's GC time.
// UUIDs compare case-insensitively (RFC 9562), as the 128-bit value does.
import { parseUuid } from './uuid.ts';

/** Identifies a source partition (a RawMessage qualifies). */
export interface PartitionRef {
  topic: string;
  partition: number;
}

const WORDS = 4;
const EMPTY = -1;
const INITIAL_SLOTS = 1024;

/**
 * FIFO set of the last `capacity` ids: a ring of 128-bit ids in arrival order, indexed by an
 * open-addressing table (linear probing, backward-shift deletion, so no tombstones). Both grow by
 * doubling up to what the capacity needs, so idle partitions stay small.
 */
export class DedupWindow {
  private ring = new Uint32Array(0);
  private slots = new Int32Array(INITIAL_SLOTS).fill(EMPTY);
  private count = 0;
  private oldest = 0;
  private readonly probe = new Uint32Array(WORDS);

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('dedup window must hold >= 1 id');
  }

  get size(): number {
    return this.count;
  }

  has(eventId: string): boolean {
    return this.toProbe(eventId) && this.slots[this.find(this.probe, 0)] !== EMPTY;
  }

  /** Remembers the id; false when it was already in the window. */
  add(eventId: string): boolean {
    if (!this.toProbe(eventId)) throw new TypeError(`eventId is not a UUID: ${eventId}`);
    return this.addProbe();
  }

  /** Remembers the id whose 128 bits are words[at..at+3] (as parseUuid writes them). */
  addBits(words: Uint32Array, at: number): boolean {
    // Word by word: a subarray view per id would be an allocation per id.
    for (let w = 0; w < WORDS; w++) this.probe[w] = words[at + w] as number;
    return this.addProbe();
  }

  private addProbe(): boolean {
    let slot = this.find(this.probe, 0);
    if (this.slots[slot] !== EMPTY) return false;
    let entry: number;
    // Growth rehashes and eviction shifts entries back: either can move the id's place.
    if (this.count < this.capacity) {
      entry = this.count++;
      if (this.reserve()) slot = this.find(this.probe, 0);
    } else {
      entry = this.oldest;
      this.remove(entry);
      this.oldest = (this.oldest + 1) % this.capacity;
      slot = this.find(this.probe, 0);
    }
    const { ring, probe } = this;
    const base = entry * WORDS;
    ring[base] = probe[0] as number;
    ring[base + 1] = probe[1] as number;
    ring[base + 2] = probe[2] as number;
    ring[base + 3] = probe[3] as number;
    this.slots[slot] = entry;
    return true;
  }

  private toProbe(eventId: string): boolean {
    return parseUuid(eventId, this.probe, 0);
  }

  private hash(words: Uint32Array, at: number): number {
    const mixed =
      Math.imul((words[at] as number) ^ (words[at + 3] as number), 0x9e3779b1) ^ (words[at + 1] as number);
    return Math.imul(mixed ^ (mixed >>> 15), 0x85ebca6b) >>> 0;
  }

  private same(entry: number, words: Uint32Array, at: number): boolean {
    const base = entry * WORDS;
    const { ring } = this;
    return (
      ring[base] === words[at] &&
      ring[base + 1] === words[at + 1] &&
      ring[base + 2] === words[at + 2] &&
      ring[base + 3] === words[at + 3]
    );
  }

  /** Slot holding the id, or the empty slot where it would go. */
  private find(words: Uint32Array, at: number): number {
    const mask = this.slots.length - 1;
    let slot = this.hash(words, at) & mask;
    for (;;) {
      const entry = this.slots[slot] as number;
      if (entry === EMPTY || this.same(entry, words, at)) return slot;
      slot = (slot + 1) & mask;
    }
  }

  private remove(entry: number): void {
    const { slots } = this;
    const mask = slots.length - 1;
    let hole = this.find(this.ring, entry * WORDS);
    // Backward shift: pull later members of the probe run into the hole when their home allows.
    for (let slot = (hole + 1) & mask; slots[slot] !== EMPTY; slot = (slot + 1) & mask) {
      const moved = slots[slot] as number;
      const home = this.hash(this.ring, moved * WORDS) & mask;
      if (((slot - home) & mask) >= ((slot - hole) & mask)) {
        slots[hole] = moved;
        hole = slot;
      }
    }
    slots[hole] = EMPTY;
  }

  /** Room for `count` entries: ring words, and a table kept at most half full; true when rehashed. */
  private reserve(): boolean {
    if (this.ring.length < this.count * WORDS) {
      const ring = new Uint32Array(Math.min(this.capacity, Math.max(INITIAL_SLOTS, this.count * 2)) * WORDS);
      ring.set(this.ring);
      this.ring = ring;
    }
    if (this.count * 2 <= this.slots.length) return false;
    this.slots = new Int32Array(this.slots.length * 2).fill(EMPTY);
    // Entries [0, count - 1) are live; the newest is placed by add() once its bits are in the ring.
    for (let entry = 0; entry < this.count - 1; entry++)
      this.slots[this.find(this.ring, entry * WORDS)] = entry;
    return true;
  }
}

export class PartitionedDedup {
  private readonly windows = new Map<string, DedupWindow>();
  // A batch usually comes from one partition: skip the key string and lookup for its repeats.
  private lastTopic = '';
  private lastPartition = -1;
  private last: DedupWindow | undefined;

  constructor(private readonly capacityPerPartition: number) {}

  window({ topic, partition }: PartitionRef): DedupWindow {
    if (this.last && topic === this.lastTopic && partition === this.lastPartition) return this.last;
    const key = `${topic}\u0000${partition}`;
    let window = this.windows.get(key);
    if (!window) {
      window = new DedupWindow(this.capacityPerPartition);
      this.windows.set(key, window);
    }
    this.lastTopic = topic;
    this.lastPartition = partition;
    this.last = window;
    return window;
  }
}
