// Faults of the services the platform depends on and of the lake's files, each ending with exact
// totals or a refusal to read damaged data. A test that stops a service starts its own (on a free
// port, with its own state directory), so stopping it disturbs nothing else on the machine.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { backfill, batchViewsDir, querySnapshot } from '../batch-layer/index.ts';
import { createClickHouse } from '../clickhouse/index.ts';
import { type Config, loadConfig } from '../config/index.ts';
import { getMetric } from '../contracts/index.ts';
import { GroundTruth, generate } from '../generator/index.ts';
import { BatchingProducer, createKafka, ensurePlatformTopics } from '../kafka/index.ts';
import {
  EVENTS_SCHEMA,
  LakeCorruptionError,
  lakeTableDir,
  openQuarantineStore,
  openTable,
  QuarantineLakeWriter,
  quarantineTableDir,
  startLakeWriter,
} from '../lake/index.ts';
import { createOrchestrator, startWorkers } from '../orchestration/index.ts';
import { kafkaDown, kafkaUp, redisDown, redisUp } from '../scripts/services/index.ts';
import { startSpeedLayer } from '../speed-layer/index.ts';
import { quarantinedSources } from './support/kafka.ts';
import { batchOrders, finished, truthOrders, untilJob, writeLake } from './support/orchestration.ts';
import { expectedOrders, readOrders, waitForCatchUp } from './support/speed.ts';

const root = mkdtempSync(join(tmpdir(), 'tidewater-faults-'));
const client = createClickHouse({ dataDir: join(root, 'clickhouse') });
const stops: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await client.close();
  rmSync(root, { recursive: true, force: true });
});

/** A port nothing listens on, from a range the platform's defaults never use. */
const port = (base: number) => base + Math.floor(Math.random() * 1000);

function privateConfig(name: string, env: Record<string, string>): Config {
  const stateDir = join(root, name, 'services');
  mkdirSync(stateDir, { recursive: true });
  return loadConfig({
    ...process.env,
    TIDEWATER_DATA_DIR: join(root, name, 'data'),
    TIDEWATER_STATE_DIR: stateDir,
    TIDEWATER_QUEUE_PREFIX: `faults-${name}`,
    ...env,
  });
}

const noLog = () => {};

describe('Redis restarted during a backfill', () => {
  it('the job resumes or is retried, and the batch view still equals the ground truth', async () => {
    const cfg = privateConfig('redis', { REDIS_URL: `redis://127.0.0.1:${port(16400)}` });
    await redisUp(cfg, noLog);
    stops.push(() => redisDown(cfg));
    const truth = new GroundTruth();
    await writeLake(
      cfg.dataDir,
      {
        seed: 61,
        count: 16_000,
        start: '2025-08-01T00:15:00Z',
        rate: 16_000 / (3.9 * 86_400),
        lateFraction: 0.02,
        duplicateFraction: 0.01,
        badFraction: 0.01,
      },
      truth,
      4,
    );
    const o = createOrchestrator(cfg);
    const workers = await startWorkers(cfg, { clickhouse: client, lockDurationMs: 2_000 });
    stops.push(
      () => o.close(),
      () => workers.close(),
    );

    const { job } = await o.requestBackfill({ from: '2025-08-01', to: '2025-08-05' });
    await untilJob(o, job.id, (j) => j.status === 'active', 15_000);
    await redisDown(cfg);
    await sleep(3_000);
    await redisUp(cfg, noLog);

    const final = await untilJob(o, job.id, finished, 150_000);
    expect(final.status, JSON.stringify(final)).toBe('completed');
    // The platform's Redis keeps an append-only file, so the queue survives the restart; the job
    // either kept its lock or stalled and was retried, and whole days are replaced either way.
    expect(await batchOrders(client, '2025-08-01', '2025-08-05')).toEqual(
      truthOrders(truth, '2025-08-01', '2025-08-05'),
    );
  }, 240_000);
});

describe('a Parquet file of the lake corrupted on disk', () => {
  it('is detected and reported by verify, backfill and time travel, and never read as data', async () => {
    const dataDir = join(root, 'corrupt', 'data');
    const truth = new GroundTruth();
    await writeLake(
      dataDir,
      { seed: 81, count: 6_000, start: '2025-10-01T00:15:00Z', rate: 6_000 / 86_000, badFraction: 0.01 },
      truth,
      3,
    );
    const lakeDir = lakeTableDir(dataDir);
    const viewsDir = batchViewsDir(dataDir);
    const run = () =>
      backfill({ client, lakeDir, viewsDir, from: '2025-10-01', to: '2025-10-02', allowedLatenessMs: 0 });
    await run();
    const before = await batchOrders(client, '2025-10-01', '2025-10-02');
    expect(before).toEqual(truthOrders(truth, '2025-10-01', '2025-10-02'));

    const table = await openTable(lakeDir, EVENTS_SCHEMA);
    const files = await table.filesAt();
    const victim = files[1] as string;
    // Same size, a few bytes flipped inside a data page: only the checksum can tell.
    const bytes = readFileSync(victim);
    for (let i = 0; i < 16; i++) {
      const at = Math.floor(bytes.length / 2) + i;
      bytes[at] = (bytes[at] as number) ^ 0xff;
    }
    writeFileSync(victim, bytes);

    const verdict = await table.verify();
    expect(verdict.problems).toHaveLength(1);
    expect(victim.endsWith(verdict.problems[0]?.path.split('/').join(sep) ?? '?')).toBe(true);
    expect(verdict.problems[0]?.problem).toMatch(/checksum/);
    table.close();

    await expect(run()).rejects.toThrow(LakeCorruptionError);
    await expect(run()).rejects.toThrow(/do not match the log, refusing to read them/);
    expect(await batchOrders(client, '2025-10-01', '2025-10-02')).toEqual(before);
    await expect(
      querySnapshot({ lakeDir, metric: getMetric('orders'), from: '2025-10-01', to: '2025-10-02', at: {} }),
    ).rejects.toThrow(LakeCorruptionError);

    // Truncated: caught by its size before any byte is hashed.
    writeFileSync(victim, bytes.subarray(0, bytes.length - 100));
    const reopened = await openTable(lakeDir, EVENTS_SCHEMA);
    expect((await reopened.verify()).problems[0]?.problem).toMatch(/bytes on disk/);
    reopened.close();
  }, 120_000);
});

describe('Kafka broker stopped and restarted during ingest', () => {
  it('the producer, the speed layer and the lake writer ride it out: rollups and quarantine equal the ground truth', async () => {
    const cfg = privateConfig('kafka', {
      KAFKA_BROKERS: `127.0.0.1:${port(19400)}`,
      TIDEWATER_EVENTS_TOPIC: 'fault-events',
      TIDEWATER_QUARANTINE_TOPIC: 'fault-events.quarantine',
      TIDEWATER_EVENTS_PARTITIONS: '4',
      TIDEWATER_SPEED_GROUP: 'fault-speed',
      // The restart makes kafkajs log every refused connection.
      LOG_LEVEL: 'silent',
    });
    // The broker's jars are the ones `services up` fetched for the shared broker: link them when
    // they are there; otherwise kafkaUp fetches them (from Maven's local cache, usually).
    const sharedLib = resolve(loadConfig().stateDir, 'kafka', 'lib-3.9.1');
    if (existsSync(join(sharedLib, '.complete'))) {
      mkdirSync(join(cfg.stateDir, 'kafka'), { recursive: true });
      symlinkSync(sharedLib, join(cfg.stateDir, 'kafka', 'lib-3.9.1'));
    }
    await kafkaUp(cfg, noLog);
    stops.push(() => kafkaDown(cfg));
    const kafka = createKafka(cfg, 'faults');
    await ensurePlatformTopics(kafka, cfg);
    const speed = await startSpeedLayer(cfg, { clickhouse: client });
    stops.push(() => speed.stop());
    // The quarantine's publisher: each range's rejections go out in the transaction committing it.
    const lake = await startLakeWriter(cfg);
    stops.push(() => lake.stop());
    const quarantineLake = new QuarantineLakeWriter({
      kafka,
      topic: cfg.quarantineTopic,
      root: quarantineTableDir(cfg.dataDir),
      groupId: cfg.quarantineGroup,
    });
    await quarantineLake.start();
    stops.push(() => quarantineLake.stop());

    const traffic = {
      seed: 71,
      count: 30_000,
      start: '2025-09-01T10:00:00Z',
      rate: 100,
      lateFraction: 0.02,
      duplicateFraction: 0.01,
      badFraction: 0.01,
    };
    const truth = new GroundTruth();
    const producer = new BatchingProducer(kafka, { topic: cfg.eventsTopic, batchSize: 1_000 });
    await producer.connect();
    let brokerStopped: () => void = () => {};
    const stopped = new Promise<void>((done) => {
      brokerStopped = done;
    });
    // The last third is produced while the broker is down or starting again.
    const ingest = async () => {
      let pushed = 0;
      for (const record of generate(traffic)) {
        if (pushed++ === 20_000) await stopped;
        truth.add(record);
        await producer.push({ key: record.key, value: record.value });
      }
      await producer.disconnect();
    };
    // The speed layer is mid-stream too: it has delivered a range, and a third is still to come.
    const restartBroker = async () => {
      while (speed.consumer.delivered === 0) await sleep(50);
      await kafkaDown(cfg);
      brokerStopped();
      await sleep(2_000);
      await kafkaUp(cfg, noLog);
    };
    await Promise.all([ingest(), restartBroker()]);
    const report = truth.toJSON();
    await waitForCatchUp(kafka, cfg.speedGroup, cfg.eventsTopic, 180_000);

    const served = await readOrders(client, { from: '2025-09-01T00:00:00Z', to: '2025-09-02T00:00:00Z' });
    expect(served.length).toBeGreaterThan(50);
    expect(served).toEqual(expectedOrders(report));
    await waitForCatchUp(kafka, cfg.lakeGroup, cfg.eventsTopic, 180_000);
    const sources = await quarantinedSources(kafka, cfg.quarantineTopic, 120_000);
    expect(sources).toHaveLength(report.totals.bad);
    expect(new Set(sources).size).toBe(report.totals.bad);
    // The quarantine table's writer rode out the restart too (kafkajs does not restart a consumer
    // after a non-retriable error, which a broker restart can end in).
    const store = await openQuarantineStore(quarantineTableDir(cfg.dataDir));
    try {
      let total = -1;
      for (let i = 0; i < 240 && total !== report.totals.bad; i++) {
        total = (await store.summary()).total;
        if (total !== report.totals.bad) await sleep(500);
      }
      expect(total).toBe(report.totals.bad);
    } finally {
      store.close();
    }
  }, 420_000);
});
