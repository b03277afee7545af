// What a record's JSON text may hold beyond being JSON: JSON.parse takes any nesting depth, lone
// UTF-16 surrogates (`"\ud800"`) and keys named `__proto__` or `constructor`, and each of those
// breaks something downstream: DuckDB's JSON reader refuses lone surrogates (and ClickHouse would
// store U+FFFD instead), JSON.stringify and foreign JSON readers recurse (Jackson stops at 1,000
// levels), and prototype keys are what object merges get poisoned through. The text is checked
// after JSON.parse has accepted it, so the scan below may assume valid JSON.
//
// Checked on every record on the gate's hot path, so the common case costs a few native string
// searches: without a backslash the text holds no escape (no lone surrogate, no escaped key), and
// with at most MAX_JSON_DEPTH brackets it cannot nest deeper. Only other texts are scanned.

/** Deepest nesting of objects and arrays a record may have; events themselves need four levels. */
export const MAX_JSON_DEPTH = 32;

const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor']);

export type JsonTextProblem =
  | { kind: 'depth'; message: string }
  | { kind: 'prototype_key'; message: string }
  | { kind: 'lone_surrogate'; message: string };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;
const WHITESPACE: ReadonlySet<number> = new Set([0x20, 0x0a, 0x0d, 0x09]);

/** Whether `text` has at most `limit` opening brackets, counted with native searches. */
function fewBrackets(text: string, limit: number): boolean {
  let count = 0;
  for (let at = text.indexOf('{'); at !== -1; at = text.indexOf('{', at + 1))
    if (++count > limit) return false;
  for (let at = text.indexOf('['); at !== -1; at = text.indexOf('[', at + 1))
    if (++count > limit) return false;
  return true;
}

/** The problem of a JSON text JSON.parse accepted, if it has one (the first found). */
export function jsonTextProblem(text: string): JsonTextProblem | undefined {
  if (
    text.indexOf('\\') === -1 &&
    text.indexOf('__proto__') === -1 &&
    text.indexOf('constructor') === -1 &&
    fewBrackets(text, MAX_JSON_DEPTH)
  )
    return undefined;
  return scan(text);
}

const hex4 = (text: string, at: number): number => Number.parseInt(text.slice(at, at + 4), 16);
const isHigh = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLow = (code: number) => code >= 0xdc00 && code <= 0xdfff;

function loneSurrogate(code: number, at: number): JsonTextProblem {
  return {
    kind: 'lone_surrogate',
    message: `(root): a lone UTF-16 surrogate \\u${code.toString(16).padStart(4, '0')} at character ${at}: no sink stores it as sent`,
  };
}

/** The index of the closing quote of the string opening at `start`, or a lone surrogate in it. */
function endOfString(text: string, start: number): number | JsonTextProblem {
  let i = start + 1;
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i;
    if (c !== BACKSLASH) {
      // Raw surrogates can only come from a JS string, not from decoded UTF-8; check them alike.
      if (isHigh(c) && isLow(text.charCodeAt(i + 1))) i += 2;
      else if (isHigh(c) || isLow(c)) return loneSurrogate(c, i);
      else i++;
      continue;
    }
    if (text.charCodeAt(i + 1) !== 0x75 /* u */) {
      i += 2;
      continue;
    }
    const code = hex4(text, i + 2);
    if (isHigh(code)) {
      const next =
        text.charCodeAt(i + 6) === BACKSLASH && text.charCodeAt(i + 7) === 0x75 ? hex4(text, i + 8) : -1;
      if (!isLow(next)) return loneSurrogate(code, i);
      i += 12;
    } else if (isLow(code)) return loneSurrogate(code, i);
    else i += 6;
  }
}

/** Whether the token after `end` (skipping whitespace) is a colon: the string was a key. */
function isKey(text: string, end: number): boolean {
  let i = end + 1;
  while (WHITESPACE.has(text.charCodeAt(i))) i++;
  return text.charCodeAt(i) === COLON;
}

/** One pass over a valid JSON text: depth outside strings, escapes and key names inside them. */
function scan(text: string): JsonTextProblem | undefined {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > MAX_JSON_DEPTH)
        return { kind: 'depth', message: `(root): nested deeper than ${MAX_JSON_DEPTH} levels` };
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
    else if (c === QUOTE) {
      const end = endOfString(text, i);
      if (typeof end !== 'number') return end;
      if (isKey(text, end)) {
        const raw = text.slice(i, end + 1);
        const key = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        if (PROTOTYPE_KEYS.has(key))
          return {
            kind: 'prototype_key',
            message: `(root): the key "${key}" at character ${i} is refused (prototype keys poison object merges)`,
          };
      }
      i = end;
    }
  }
  return undefined;
}
