// A batch's identity in Kafka: the offset range it covers. The range names the ClickHouse
// deduplication token, and it is written into the offset commit *before* the insert, so that a
// restart re-inserts exactly that range (same rows, same token) instead of a differently sized
// batch whose token ClickHouse has never seen. A grouped insert (several partitions' ranges in one
// block, see delivery.ts) is named by all its members' ranges, and each member's commit announces
// the whole group's token.

/** Inclusive range of offsets of one partition. Offsets stay below 2^53 (centuries at 1M events/s). */
export interface OffsetRange {
  first: number;
  last: number;
}

export function dedupToken(topic: string, partition: number, { first, last }: OffsetRange): string {
  return `${topic}:${partition}:${first}-${last}`;
}

export interface GroupMemberRange {
  partition: number;
  range: OffsetRange;
}

/**
 * The token of one block holding several partitions' ranges, in the members' order. A group of one
 * is named exactly as dedupToken names its range, so either protocol can finish the other's range.
 */
export function groupToken(topic: string, members: readonly GroupMemberRange[]): string {
  if (members.length === 0) throw new Error('a group needs at least one member');
  return `${topic}:${members.map(({ partition, range }) => `${partition}:${range.first}-${range.last}`).join(',')}`;
}

/** A range announced in an offset commit; `group` is the token of the grouped insert it is part of. */
export interface PendingRange extends OffsetRange {
  group?: string;
}

/** Offset-commit metadata announcing that `range` (in the insert named `group`, if given) is about to be inserted. */
export function pendingMetadata({ first, last }: OffsetRange, group?: string): string {
  return JSON.stringify(
    group === undefined ? { pending: `${first}-${last}` } : { pending: `${first}-${last}`, group },
  );
}

/** The range a commit's metadata announced, if any (anything unrecognised counts as none). */
export function parsePending(metadata: string | null | undefined): PendingRange | undefined {
  if (!metadata) return undefined;
  let parsed: { pending?: unknown; group?: unknown };
  try {
    parsed = JSON.parse(metadata) as { pending?: unknown; group?: unknown };
  } catch {
    return undefined;
  }
  const match = typeof parsed?.pending === 'string' ? /^(\d+)-(\d+)$/.exec(parsed.pending) : null;
  if (!match) return undefined;
  const range = { first: Number(match[1]), last: Number(match[2]) };
  if (range.first > range.last) return undefined;
  return typeof parsed.group === 'string' && parsed.group !== '' ? { ...range, group: parsed.group } : range;
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
