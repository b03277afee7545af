// Bytes off the wire to an event, in the order the quality gate applies the same steps: size,
// UTF-8, JSON, the text checks JSON.parse does not make (json-text.ts), the contract, and what the
// sinks can store (storable.ts). The gate runs the contract compiled (quality/contract.ts) but
// shares every other step through parseRecord.
import { MAX_EVENT_BYTES, TidewaterEvent } from './events.ts';
import { describeIssues } from './issues.ts';
import { jsonTextProblem } from './json-text.ts';
import { storableProblem } from './storable.ts';

/** Why a record is refused before its contract is checked; `rule` is the gate's rule id. */
export class RecordProblem {
  constructor(
    readonly rule: 'decode' | 'storable',
    readonly message: string,
  ) {}
}

// Fatal: bytes that are not UTF-8 are refused rather than read with replacement characters, which
// would store something the producer never sent. ignoreBOM keeps a byte order mark in the text,
// where JSON.parse refuses it, as DuckDB's reader of the original bytes would.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Length of the UTF-8 sequence a lead byte starts, 0 for a byte no sequence starts with. */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/** The offset of the first byte that is not valid UTF-8 (only called on bytes that are not). */
function firstInvalidByte(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i] as number;
    const length = sequenceLength(lead);
    if (length === 0) return i;
    // The second byte's range excludes overlong forms and surrogates (RFC 3629's table).
    const low = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k < length; k++) {
      const b = bytes[i + k];
      if (b === undefined || b < (k === 1 ? low : 0x80) || b > (k === 1 ? high : 0xbf)) return i;
    }
    i += length;
  }
  return bytes.length;
}

/** A record's bytes to its parsed JSON, or why they are refused. */
export function parseRecord(bytes: Uint8Array): unknown {
  if (bytes.byteLength > MAX_EVENT_BYTES) {
    return new RecordProblem(
      'decode',
      `(root): ${bytes.byteLength} bytes exceeds MAX_EVENT_BYTES (${MAX_EVENT_BYTES})`,
    );
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return new RecordProblem('decode', `(root): not valid UTF-8 (byte ${firstInvalidByte(bytes)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return new RecordProblem('decode', `(root): invalid JSON: ${(error as Error).message}`);
  }
  const problem = jsonTextProblem(text);
  if (problem === undefined) return json;
  return new RecordProblem(problem.kind === 'lone_surrogate' ? 'storable' : 'decode', problem.message);
}

export type DecodeResult = { ok: true; event: TidewaterEvent } | { ok: false; errors: string[] };

/** Bytes (a string is taken as its UTF-8 encoding) to a validated event the sinks can store. */
export function decodeEvent(bytes: Uint8Array | string): DecodeResult {
  if (typeof bytes === 'string' && !bytes.isWellFormed())
    return { ok: false, errors: ['(root): the text holds a lone UTF-16 surrogate'] };
  const json = parseRecord(typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
  if (json instanceof RecordProblem) return { ok: false, errors: [json.message] };
  const result = TidewaterEvent.safeParse(json);
  if (!result.success) return { ok: false, errors: describeIssues(result.error) };
  const problem = storableProblem(result.data, Date.parse(result.data.eventTime));
  return problem === undefined ? { ok: true, event: result.data } : { ok: false, errors: [problem] };
}
