// Canonical UUID text (8-4-4-4-12 hex digits) read by table lookups: the dedup window keys on the
// 128 bits, and the compiled contract checks zod's UUID rule this way rather than by its regex.
// The gate reads each eventId twice (contract, then dedup window), so the last id read keeps its
// bits: the second read is a string comparison and a copy.

const UUID_LENGTH = 36;

const DASH = 45;
const DASHES = [8, 13, 18, 23];
/** Positions of the 32 hex digits in the canonical form. */
const DIGIT_AT = Uint8Array.from({ length: UUID_LENGTH }, (_, i) => i).filter((i) => !DASHES.includes(i));
/** Nibble value of each ASCII code, -1 for non-hex; both cases, as UUIDs compare case-insensitively. */
const HEX = new Int8Array(128).fill(-1);
for (let digit = 0; digit < 16; digit++) {
  HEX[digit.toString(16).charCodeAt(0)] = digit;
  HEX[digit.toString(16).toUpperCase().charCodeAt(0)] = digit;
}

const nibble = (code: number): number => (code < HEX.length ? (HEX[code] as number) : -1);

/** The last id read and its bits. */
let lastId = '';
const lastBits = new Uint32Array(4);

/** Writes the 128 bits of a canonical UUID into out[at..at+3]; false when it is not one. */
export function parseUuid(id: string, out: Uint32Array, at: number): boolean {
  if (id !== lastId) {
    if (!readUuid(id)) {
      lastId = '';
      return false;
    }
    lastId = id;
  }
  out[at] = lastBits[0] as number;
  out[at + 1] = lastBits[1] as number;
  out[at + 2] = lastBits[2] as number;
  out[at + 3] = lastBits[3] as number;
  return true;
}

/** Reads a canonical UUID's bits into lastBits; false when it is not one. */
function readUuid(id: string): boolean {
  if (id.length !== UUID_LENGTH) return false;
  if (
    id.charCodeAt(8) !== DASH ||
    id.charCodeAt(13) !== DASH ||
    id.charCodeAt(18) !== DASH ||
    id.charCodeAt(23) !== DASH
  ) {
    return false;
  }
  let invalid = 0;
  let word = 0;
  for (let n = 0; n < DIGIT_AT.length; n++) {
    const value = nibble(id.charCodeAt(DIGIT_AT[n] as number));
    invalid |= value;
    word = (word << 4) | (value & 15);
    if ((n & 7) === 7) {
      lastBits[n >> 3] = word >>> 0;
      word = 0;
    }
  }
  return invalid >= 0;
}

/** The regex zod 4 exports for z.uuid(), which isZodUuid implements. */
export const ZOD_UUID_PATTERN =
  '^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$';
const NIL = '00000000-0000-0000-0000-000000000000';
const MAX = 'ffffffff-ffff-ffff-ffff-ffffffffffff';
const scratch = new Uint32Array(4);

/** Exactly what ZOD_UUID_PATTERN matches: versions 1-8 with the RFC 9562 variant, or nil, or max. */
export function isZodUuid(id: string): boolean {
  if (!parseUuid(id, scratch, 0)) return false;
  const version = nibble(id.charCodeAt(14));
  const variant = nibble(id.charCodeAt(19));
  return (version >= 1 && version <= 8 && variant >= 8 && variant <= 11) || id === NIL || id === MAX;
}
