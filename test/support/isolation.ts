// A test's own corner of the shared broker and disk: unique topics, data directory and consumer
// group per call, removed when the file's tests end.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { type Config, loadConfig } from '../../config/index.ts';
import type { GenerateOptions } from '../../generator/index.ts';
import { createKafka, ensurePlatformTopics } from '../../kafka/index.ts';

export interface Isolated {
  cfg: Config;
  groupId: string;
  /** The environment a child `tidewater` process needs to see the same config. */
  env: NodeJS.ProcessEnv;
}

/** Returns `isolated(name)`, whose topics and directories are cleaned up after the file's tests. */
export function isolation(prefix: string): (name: string) => Promise<Isolated> {
  const dirs: string[] = [];
  const topics: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    const admin = createKafka(loadConfig(), 'test').admin();
    await admin.connect();
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  });
  return async (name) => {
    const id = `${name}-${randomUUID().slice(0, 8)}`;
    const dataDir = mkdtempSync(join(tmpdir(), `tidewater-${name}-`));
    dirs.push(dataDir);
    const env = {
      ...process.env,
      TIDEWATER_EVENTS_TOPIC: `${prefix}-${id}`,
      TIDEWATER_QUARANTINE_TOPIC: `${prefix}-${id}.quarantine`,
      TIDEWATER_EVENTS_PARTITIONS: '4',
      TIDEWATER_DATA_DIR: dataDir,
      // A platform the test starts must not take the ClickHouse interface's port from another.
      TIDEWATER_CLICKHOUSE_HTTP_PORT: '0',
      LOG_LEVEL: 'error',
    };
    const cfg = loadConfig(env);
    topics.push(cfg.eventsTopic, cfg.quarantineTopic);
    await ensurePlatformTopics(createKafka(cfg, 'test'), cfg);
    return { cfg, groupId: `${prefix}-${id}`, env };
  };
}

/** Generated traffic with every kind of imperfection, at a rate that spreads it over hours. */
export const imperfectTraffic = (seed: number, start: string, count: number): GenerateOptions => ({
  seed,
  count,
  start,
  rate: 200,
  lateFraction: 0.02,
  duplicateFraction: 0.01,
  badFraction: 0.01,
});
