// The command line as a user runs it (bin/tidewater.js, a child process). Commands load only what
// they use: `keys create` talks to Redis alone, so neither the engines (chDB, DuckDB) nor the
// Kafka, queue or HTTP libraries may load for it; each costs seconds of start-up on a loaded machine.
import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.ts';
import { KeyStore } from '../serving-layer/keys.ts';

const PREFIX = `cli-test-${process.pid}-${Date.now()}`;
const redis = new Redis(loadConfig().redisUrl);

afterAll(async () => {
  const stale = await redis.keys(`${PREFIX}:*`);
  if (stale.length > 0) await redis.unlink(...stale);
  redis.disconnect();
});

/** Runs `tidewater <args>`; NODE_DEBUG=module lists on stderr every CommonJS file it loads. */
function tidewater(args: string[]) {
  const run = spawnSync(process.execPath, ['bin/tidewater.js', ...args], {
    env: { ...process.env, TIDEWATER_QUEUE_PREFIX: PREFIX, NODE_DEBUG: 'module' },
    encoding: 'utf8',
  });
  const packages = new Set(
    [...run.stderr.matchAll(/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)].map((m) => m[1]),
  );
  return { status: run.status, stdout: run.stdout, packages };
}

const HEAVY = ['chdb', '@duckdb/node-api', '@clickhouse/client', 'kafkajs', 'bullmq', 'fastify'];

describe('tidewater keys create', () => {
  it('prints a working key of the role asked for, loading none of the engines or other clients', async () => {
    const run = tidewater(['keys', 'create', '--role', 'reader', '--name', 'cli test']);
    expect(run.status).toBe(0);
    const secret = run.stdout.trim().split('\n').at(-1) ?? '';
    expect(secret).toMatch(/^tw_[0-9a-f]{12}_/);
    expect(await new KeyStore(redis, PREFIX).verify(secret)).toMatchObject({
      role: 'reader',
      name: 'cli test',
    });
    // ioredis must show up, or the module listing proves nothing.
    expect(run.packages).toContain('ioredis');
    expect(HEAVY.filter((name) => run.packages.has(name))).toEqual([]);
  });

  it('--help of every command loads none of them either', () => {
    const run = tidewater(['--help']);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('keys');
    expect(run.packages).toContain('commander');
    expect(HEAVY.filter((name) => run.packages.has(name))).toEqual([]);
  });
});
