import { MAX_EVENT_BYTES, TidewaterEvent } from './events.ts';
import { describeIssues } from './issues.ts';

const utf8 = new TextDecoder();

export type DecodeResult = { ok: true; event: TidewaterEvent } | { ok: false; errors: string[] };

/** Bytes off the wire to a validated event: size guard, JSON, then the contract. */
export function decodeEvent(bytes: Uint8Array | string): DecodeResult {
  const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength;
  if (size > MAX_EVENT_BYTES) {
    return { ok: false, errors: [`(root): ${size} bytes exceeds MAX_EVENT_BYTES (${MAX_EVENT_BYTES})`] };
  }
  let json: unknown;
  try {
    json = JSON.parse(typeof bytes === 'string' ? bytes : utf8.decode(bytes));
  } catch (error) {
    return { ok: false, errors: [`(root): invalid JSON: ${(error as Error).message}`] };
  }
  const result = TidewaterEvent.safeParse(json);
  return result.success
    ? { ok: true, event: result.data }
    : { ok: false, errors: describeIssues(result.error) };
}
