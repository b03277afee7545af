// Tells API instances that the speed view changed: after each successful insert, one Redis round
// trip (a script) advances the shared commit state and publishes a notice on a channel. Live
// subscriptions re-query the minutes a notice names; the query cache keys its answers by the state.
// Fire and forget: the insert never waits on Redis, and a Redis outage costs only freshness.
import { Redis } from 'ioredis';

export const speedCommitsChannel = (prefix: string) => `${prefix}:speed-commits`;
export const speedStateKey = (prefix: string) => `${prefix}:speed-state`;

/** One committed insert: its sequence number and the event times (ms) it touched. */
export interface CommitNotice {
  seq: number;
  oldest: number;
  newest: number;
}

/**
 * The shared state behind cache keys. `seq` counts every commit. `settled` is the newest event
 * time ever committed minus the allowed lateness; `settledSeq` counts only commits that touched an
 * event time before `settled`, so an answer over a range ending before `settled` stays valid for as
 * long as `settledSeq` does not move, whatever recent traffic commits.
 */
export interface SpeedState {
  seq: number;
  settled: number;
  settledSeq: number;
}

// KEYS[1] state hash; ARGV: channel, oldest, newest, lateness (ms).
const COMMIT_SCRIPT = `
local oldest = tonumber(ARGV[2])
local newest = tonumber(ARGV[3])
local settled = math.max(tonumber(redis.call('HGET', KEYS[1], 'settled') or '-1e18'), newest - tonumber(ARGV[4]))
redis.call('HSET', KEYS[1], 'settled', string.format('%.0f', settled))
if oldest < settled then redis.call('HINCRBY', KEYS[1], 'settledSeq', 1) end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('PUBLISH', ARGV[1], seq .. ' ' .. ARGV[2] .. ' ' .. ARGV[3])
return seq`;

export function parseCommitNotice(message: string): CommitNotice | undefined {
  const [seq, oldest, newest] = message.split(' ').map(Number);
  if (seq === undefined || oldest === undefined || newest === undefined) return undefined;
  if (![seq, oldest, newest].every(Number.isFinite)) return undefined;
  return { seq, oldest, newest };
}

export async function readSpeedState(redis: Redis, prefix: string): Promise<SpeedState> {
  const [seq, settled, settledSeq] = await redis.hmget(speedStateKey(prefix), 'seq', 'settled', 'settledSeq');
  return {
    seq: Number(seq ?? 0),
    settled: settled === null ? Number.NEGATIVE_INFINITY : Number(settled),
    settledSeq: Number(settledSeq ?? 0),
  };
}

export class SpeedCommitPublisher {
  private readonly channel: string;
  private readonly key: string;
  private failures = 0;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly allowedLatenessMs: number,
  ) {
    this.channel = speedCommitsChannel(prefix);
    this.key = speedStateKey(prefix);
  }

  /** Commits whose notice Redis did not take. */
  get failed(): number {
    return this.failures;
  }

  notify(oldest: number, newest: number): void {
    this.redis
      .eval(COMMIT_SCRIPT, 1, this.key, this.channel, oldest, newest, this.allowedLatenessMs)
      .catch(() => {
        this.failures++;
      });
  }
}

/**
 * A publisher on its own Redis connection, for a speed layer process. Commands fail at once while
 * Redis is unreachable rather than queue up behind the inserts.
 */
export function connectCommitPublisher(cfg: {
  redisUrl: string;
  queuePrefix: string;
  allowedLatenessMinutes: number;
}): { publisher: SpeedCommitPublisher; close(): void } {
  const redis = new Redis(cfg.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined); // counted as failed notices; the inserts go on
  return {
    publisher: new SpeedCommitPublisher(redis, cfg.queuePrefix, cfg.allowedLatenessMinutes * 60_000),
    close: () => redis.disconnect(),
  };
}
