// Seeded randomness for everything synthetic (dimensions, traffic). Math.random is never used:
// the same seed must reproduce the same bytes on every machine.

const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Murmur3's 32-bit finaliser: a cheap stateless hash for values derived from an index. */
export function mix32(value: number): number {
  let h = value | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Eight lowercase hex characters of a 32-bit value. */
export function hex32(value: number): string {
  return `${HEX_BYTE[value >>> 24]}${HEX_BYTE[(value >>> 16) & 0xff]}${HEX_BYTE[(value >>> 8) & 0xff]}${HEX_BYTE[value & 0xff]}`;
}

/** sfc32 (Chris Doty-Humphrey's small fast counting generator): 128-bit state, fast in plain JS. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    // Spread the seed over all four words so that nearby seeds give unrelated streams.
    this.a = mix32(seed ^ 0x9e3779b9);
    this.b = mix32(seed ^ 0x243f6a88);
    this.c = mix32(seed ^ 0xb7e15162);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Uniform integer in [min, max], both inclusive. */
  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(probability: number): boolean {
    return this.float() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  /** `bytes` * 2 hex characters, bytes a multiple of 4. */
  hex(bytes: number): string {
    let out = '';
    for (let i = 0; i < bytes; i += 4) out += hex32(this.u32());
    return out;
  }

  /** An RFC 4122 version 4 UUID built from the stream, so ids are reproducible. */
  uuid(): string {
    const a = this.u32();
    const b = this.u32();
    const c = this.u32();
    const d = this.u32();
    // Version nibble 4 in byte 6, variant bits 10 in byte 8.
    return `${hex32(a)}-${HEX_BYTE[b >>> 24]}${HEX_BYTE[(b >>> 16) & 0xff]}-${HEX_BYTE[((b >>> 8) & 0x0f) | 0x40]}${HEX_BYTE[b & 0xff]}-${HEX_BYTE[((c >>> 24) & 0x3f) | 0x80]}${HEX_BYTE[(c >>> 16) & 0xff]}-${HEX_BYTE[(c >>> 8) & 0xff]}${HEX_BYTE[c & 0xff]}${hex32(d)}`;
  }
}

/** Weighted choice over a fixed table; cumulative weights are computed once. */
export class Weighted<T> {
  private readonly items: readonly T[];
  private readonly cumulative: number[];
  private readonly total: number;

  constructor(entries: readonly (readonly [T, number])[]) {
    this.items = entries.map(([item]) => item);
    let sum = 0;
    this.cumulative = entries.map(([, weight]) => {
      sum += weight;
      return sum;
    });
    this.total = sum;
  }

  pick(rng: Rng): T {
    const x = rng.float() * this.total;
    let i = 0;
    for (const bound of this.cumulative) {
      if (x < bound) return this.items[i] as T;
      i++;
    }
    return this.items[this.items.length - 1] as T;
  }
}
