// Whether a record's bytes spell exactly the event the gate validated from them, so that the lake
// can hand DuckDB the bytes themselves (re-serializing every event with JSON.stringify cost the lake
// writer about as much as DuckDB's whole JSON parse of the batch), and a verdict board can tell the
// lake so without the lake parsing the record (quality/verdict-board.ts).
//
// Bytes and event differ where the text repeats a key (JSON.parse, hence the gate and the speed
// layer, keeps the last value; DuckDB's reader the first) or holds a key the contract strips. Both
// leave the text with more string tokens (keys and string values) than the event has: the event's
// keys and strings each come from a token of their own, and a repeated or stripped key is one more.
// A string token puts two `"` bytes in the text (an escaped quote inside it a third; UTF-8 never
// uses the byte otherwise), so a text with exactly twice as many `"` as the event has keys and
// strings holds no token beyond the event's own, and every JSON reader sees that same event.
const QUOTE = 0x22;
const QUOTES = 0x22222222;
const LOW_BITS = 0x7f7f7f7f;
const HIGH_BITS = 0x80808080;

/** Word views of the memory record bytes live in (a Kafka fetch's records share one buffer). */
const wordViews = new WeakMap<ArrayBufferLike, Int32Array>();

function wordsOf(buffer: ArrayBufferLike): Int32Array {
  let words = wordViews.get(buffer);
  if (words === undefined) {
    words = new Int32Array(buffer, 0, buffer.byteLength >> 2);
    wordViews.set(buffer, words);
  }
  return words;
}

/**
 * The `"` bytes in `bytes`, four at a time where aligned (a third of the time of an indexOf loop):
 * in `word ^ 0x22222222` a quote is a zero byte, and a zero byte is one whose low seven bits plus
 * 0x7f do not carry into its high bit, which is not set either.
 */
function quotes(bytes: Buffer): number {
  const start = bytes.byteOffset;
  const end = start + bytes.byteLength;
  const firstWord = (start + 3) >> 2;
  const endWord = end >> 2;
  let count = 0;
  if (firstWord >= endWord) {
    for (let i = 0; i < bytes.byteLength; i++) if (bytes[i] === QUOTE) count++;
    return count;
  }
  for (let i = 0; i < (firstWord << 2) - start; i++) if (bytes[i] === QUOTE) count++;
  const words = wordsOf(bytes.buffer);
  for (let w = firstWord; w < endWord; w++) {
    const x = (words[w] as number) ^ QUOTES;
    const zeros = ~(((x & LOW_BITS) + LOW_BITS) | x) & HIGH_BITS;
    count += Math.imul(zeros >>> 7, 0x01010101) >>> 24;
  }
  for (let i = (endWord << 2) - start; i < bytes.byteLength; i++) if (bytes[i] === QUOTE) count++;
  return count;
}

/** Keys and string values of a JSON value as JSON.stringify would write it (undefined fields drop). */
function stringTokens(value: unknown): number {
  if (typeof value === 'string') return 1;
  if (value === null || typeof value !== 'object') return 0;
  let count = 0;
  if (Array.isArray(value)) {
    for (const item of value) count += stringTokens(item);
    return count;
  }
  for (const key in value) {
    const field = (value as Record<string, unknown>)[key];
    if (field !== undefined) count += 1 + stringTokens(field);
  }
  return count;
}

/**
 * True when every key and string of the JSON text `bytes` (UTF-8) is one of `parsed`'s, where
 * `parsed` is JSON.parse of that text less any keys a validator stripped.
 */
export function spellsExactly(bytes: Buffer, parsed: unknown): boolean {
  return quotes(bytes) === 2 * stringTokens(parsed);
}
