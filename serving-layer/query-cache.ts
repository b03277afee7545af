// Metrics answers cached in Redis, shared by API instances. A key is the normalized query plus
// everything that could change its answer, so an entry is never stale; it is only unreachable once
// the state moved (the TTL bounds the memory such entries hold):
// - the boundary (since, watermark, batch and lake version, and the newest batch version loaded): a
//   backfill, recompute or correction moves it;
// - the plan: which layer answers which range (late hours below the watermark go to the speed view);
// - the speed view's commit state, when the range has a speed segment (speed-layer/commits.ts):
//   a range ending before `settled` (the newest committed event time minus the allowed lateness)
//   changes only when a commit touches an event time before `settled`, which `settledSeq` counts,
//   so the bulk of history stays cached while live traffic commits; a more recent range keys on
//   every commit (`seq`), so it is shared only between commits.
// Queries without an explicit `to` end "now" and are not cached.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { readSpeedState } from '../speed-layer/index.ts';
import type { BoundaryState } from './context.ts';
import type { Segment } from './merge-plan.ts';

export type CacheBasis = 'batch' | 'settled' | 'recent' | 'none';

export interface CacheOutcome<T> {
  value: T;
  hit: boolean;
  basis: CacheBasis;
}

export class QueryCache {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds: number,
  ) {}

  /**
   * `load()`'s answer for `query` over `range`, from the cache when an entry for the current state
   * exists. Redis failures fall back to `load()`: the cache never fails an answer.
   */
  async through<T>(
    query: { identity: unknown; range: { from: number; to: number }; explicitTo: boolean },
    boundary: BoundaryState | undefined,
    segments: readonly Segment[],
    load: () => Promise<T>,
  ): Promise<CacheOutcome<T>> {
    if (this.ttlSeconds === 0 || !query.explicitTo) return { value: await load(), hit: false, basis: 'none' };
    let key: string;
    let basis: CacheBasis;
    try {
      let speed: string | undefined;
      if (segments.every((s) => s.layer === 'batch')) basis = 'batch';
      else {
        const state = await readSpeedState(this.redis, this.prefix);
        basis = query.range.to <= state.settled ? 'settled' : 'recent';
        speed = basis === 'settled' ? `settled:${state.settledSeq}` : `seq:${state.seq}`;
      }
      const parts = {
        q: query.identity,
        b: boundary
          ? [
              boundary.since,
              boundary.watermark,
              boundary.batchVersion,
              boundary.lakeVersion,
              boundary.loadedBatchVersion,
            ]
          : null,
        plan: segments.map((s) => [s.layer, s.from, s.to]),
        speed,
      };
      key = `${this.prefix}:query-cache:${createHash('sha256').update(JSON.stringify(parts)).digest('base64url')}`;
      const stored = await this.redis.get(key);
      if (stored !== null) return { value: JSON.parse(stored) as T, hit: true, basis };
    } catch {
      return { value: await load(), hit: false, basis: 'none' };
    }
    const value = await load();
    this.redis.set(key, JSON.stringify(value), 'EX', this.ttlSeconds).catch(() => undefined);
    return { value, hit: false, basis };
  }
}
