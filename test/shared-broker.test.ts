// Two platforms on one broker, each with its own topics and the consumer groups derived from them:
// each quarantine table must hold exactly its own platform's rejected records, once. A platform
// configured into a group that already serves another topic must refuse to start, naming it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../cli/platform.ts';
import type { Config } from '../config/index.ts';
import type { GroundTruthReport } from '../generator/index.ts';
import { createKafka, GroupInUseError } from '../kafka/index.ts';
import { openQuarantineStore, QuarantineLakeWriter, quarantineTableDir } from '../lake/index.ts';
import { imperfectTraffic, isolation } from './support/isolation.ts';
import { produceGenerated, waitForCatchUp } from './support/speed.ts';

const isolated = isolation('shared');
const platforms: Platform[] = [];
const runs: { cfg: Config; truth: GroundTruthReport }[] = [];

async function start(cfg: Config): Promise<Platform> {
  const platform = await startPlatform(cfg, { roles: ['lake'], demo: false, log: () => {} });
  platforms.push(platform);
  return platform;
}

beforeAll(async () => {
  for (const [name, seed] of [
    ['staging', 41],
    ['production', 42],
  ] as const) {
    const { cfg } = await isolated(name);
    await start(cfg);
    const truth = await produceGenerated(
      createKafka(cfg, 'test'),
      cfg.eventsTopic,
      imperfectTraffic(seed, '2025-09-01T10:00:00Z', 4_000),
    );
    runs.push({ cfg, truth });
  }
  for (const { cfg } of runs) {
    const kafka = createKafka(cfg, 'test');
    await waitForCatchUp(kafka, cfg.lakeGroup, cfg.eventsTopic, 90_000);
    await waitForCatchUp(kafka, cfg.quarantineGroup, cfg.quarantineTopic, 60_000);
  }
}, 180_000);

afterAll(async () => {
  for (const platform of platforms) await platform.stop();
});

describe('two platforms on one broker', () => {
  it('derive different consumer groups from their topics', () => {
    const [a, b] = runs.map((r) => r.cfg) as [Config, Config];
    for (const key of ['speedGroup', 'lakeGroup', 'quarantineGroup'] as const)
      expect(a[key]).not.toBe(b[key]);
  });

  it('each quarantine table holds exactly its own rejected records, once', async () => {
    for (const { cfg, truth } of runs) {
      const store = await openQuarantineStore(quarantineTableDir(cfg.dataDir));
      try {
        const records = await store.list();
        expect(truth.totals.bad).toBeGreaterThan(20);
        expect(records).toHaveLength(truth.totals.bad);
        expect(new Set(records.map((r) => r.id)).size).toBe(records.length);
        expect(records.every((r) => r.source.topic === cfg.eventsTopic)).toBe(true);
      } finally {
        store.close();
      }
    }
  });

  it('refuses to start a consumer in a group that serves the other platform', async () => {
    const [a, b] = runs.map((r) => r.cfg) as [Config, Config];
    // Production's lake writer set, by mistake, to staging's lake group while staging runs.
    await expect(
      start({ ...b, lakeGroup: a.lakeGroup, quarantineGroup: `${b.quarantineGroup}.x` }),
    ).rejects.toThrow(GroupInUseError);
    // Staging's quarantine group has committed offsets of staging's quarantine topic.
    const writer = new QuarantineLakeWriter({
      kafka: createKafka(b, 'test'),
      topic: b.quarantineTopic,
      root: quarantineTableDir(b.dataDir),
      groupId: a.quarantineGroup,
    });
    await expect(writer.start()).rejects.toThrow(
      new RegExp(`consumer group "${a.quarantineGroup}" already serves "${a.quarantineTopic}"`),
    );
    await writer.stop();
  });
});
