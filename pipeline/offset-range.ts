// A batch's identity in Kafka: the offset range it covers. The range names the ClickHouse
// deduplication token, and it is written into the offset commit *before* the insert, so that a
// restart re-inserts exactly that range (same rows, same token) instead of a differently sized
// batch whose token ClickHouse has never seen.

/** Inclusive range of offsets of one partition. Offsets stay below 2^53 (centuries at 1M events/s). */
export interface OffsetRange {
  first: number;
  last: number;
}

export function dedupToken(topic: string, partition: number, { first, last }: OffsetRange): string {
  return `${topic}:${partition}:${first}-${last}`;
}

/** Offset-commit metadata announcing that `range` is about to be inserted. */
export function pendingMetadata({ first, last }: OffsetRange): string {
  return JSON.stringify({ pending: `${first}-${last}` });
}

/** The range a commit's metadata announced, if any (anything unrecognised counts as none). */
export function parsePending(metadata: string | null | undefined): OffsetRange | undefined {
  if (!metadata) return undefined;
  let pending: unknown;
  try {
    pending = (JSON.parse(metadata) as { pending?: unknown }).pending;
  } catch {
    return undefined;
  }
  const match = typeof pending === 'string' ? /^(\d+)-(\d+)$/.exec(pending) : null;
  if (!match) return undefined;
  const range = { first: Number(match[1]), last: Number(match[2]) };
  return range.first <= range.last ? range : undefined;
}

/** The partition and range a token names (the inverse of dedupToken). */
export function parseToken(token: string): { topic: string; partition: number; range: OffsetRange } {
  const match = /^(.*):(\d+):(\d+)-(\d+)$/.exec(token);
  if (!match) throw new Error(`not an offset-range token: ${token}`);
  return {
    topic: match[1] as string,
    partition: Number(match[2]),
    range: { first: Number(match[3]), last: Number(match[4]) },
  };
}
