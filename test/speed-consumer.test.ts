// The speed-layer consumer against the real local Kafka and embedded ClickHouse: generated traffic
// with known ground truth must come out of the orders view exactly, also when the consumer process
// is killed at random moments and restarted. It publishes none of the gate's rejections: the lake
// writer does (lake-writer.test.ts).
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createClickHouse, type TimeRange } from '../clickhouse/index.ts';
import { loadPlatformDimensions } from '../contracts/index.ts';
import { createKafka, kafkajs } from '../kafka/index.ts';
import {
  fetchPositions,
  GatedConsumer,
  type GroupSink,
  parsePending,
  threadedGates,
} from '../pipeline/index.ts';
import { QuarantinePublisher } from '../quality/quarantine/index.ts';
import {
  applySpeedLayerDdl,
  createSink,
  INSERT_PREPARER,
  type PreparedInsert,
  startSpeedLayer,
} from '../speed-layer/index.ts';
import { exited, startTidewater } from './support/child.ts';
import { imperfectTraffic, isolation } from './support/isolation.ts';
import {
  expectedOrders,
  produceGenerated,
  readOrders,
  topicRecords,
  waitForCatchUp,
} from './support/speed.ts';

const isolated = isolation('speed-test');

const traffic = imperfectTraffic;

// Late events reach up to maxLatenessMinutes (10) before the start.
const dayFrom = (start: string): TimeRange => ({
  from: new Date(Date.parse(start) - 3_600_000),
  to: new Date(Date.parse(start) + 86_400_000),
});

describe('speed consumer in-process', () => {
  it('delivers generated traffic exactly (orders per minute and region), publishing none of the gate’s rejections', async () => {
    const { cfg, groupId } = await isolated('speed-a');
    const kafka = createKafka(cfg, 'test');
    const start = '2025-03-01T00:00:00Z';
    const truth = await produceGenerated(kafka, cfg.eventsTopic, traffic(11, start, 40_000));
    const registry = new Registry();
    const speed = await startSpeedLayer(cfg, { groupId, registry });
    try {
      await waitForCatchUp(kafka, groupId, cfg.eventsTopic, 60_000);
      // The commit's answer may reach the admin client before the consumer.
      await expect.poll(() => speed.consumer.delivered).toBe(truth.totals.emitted);
      const expected = expectedOrders(truth);
      expect(expected.length).toBeGreaterThan(50);
      expect(await readOrders(speed.clickhouse, dayFrom(start))).toEqual(expected);
      expect(truth.totals.bad).toBeGreaterThan(100);
      expect(await topicRecords(kafka, cfg.quarantineTopic)).toBe(0);
      const records = await registry.getSingleMetric('tidewater_speed_records_total')?.get();
      expect(records?.values[0]?.value).toBe(truth.totals.emitted);
    } finally {
      await speed.stop();
    }
  }, 120_000);
});

/** A group sink whose deliveries run `around` the real one (which it calls with `deliver`). */
const aroundDeliveries =
  (around: (deliver: () => Promise<(number | undefined)[]>) => Promise<(number | undefined)[]>) =>
  (sink: GroupSink<PreparedInsert>): GroupSink<PreparedInsert> => ({
    async stage(token, members) {
      const staged = await sink.stage(token, members);
      return { deliver: () => around(() => staged.deliver()), release: staged.release };
    },
    redeliver: sink.redeliver,
  });

/** GatedConsumers in this process on one ClickHouse. */
async function inProcess(name: string, seed: number, start: string) {
  const { cfg, groupId } = await isolated(name);
  // Injected failures would each log a kafkajs error.
  const kafka = createKafka({ ...cfg, logLevel: 'silent' }, 'test');
  const truth = await produceGenerated(kafka, cfg.eventsTopic, traffic(seed, start, 20_000));
  const clickhouse = createClickHouse({ dataDir: cfg.dataDir });
  await applySpeedLayerDdl(clickhouse);
  const publisher = new QuarantinePublisher(kafka, { topic: cfg.quarantineTopic });
  await publisher.connect();
  const dimensions = await loadPlatformDimensions(cfg.dataDir);
  const admin = kafka.admin();
  await admin.connect();
  const consumers: GatedConsumer<PreparedInsert>[] = [];
  return {
    truth,
    publisher,
    /** A consumer whose group sink `wrap` may intercept (the embedded engine takes grouped inserts). */
    async consumer(
      wrap: (sink: GroupSink<PreparedInsert>) => GroupSink<PreparedInsert> = (sink) => sink,
    ): Promise<GatedConsumer<PreparedInsert>> {
      const sink = createSink({ clickhouse, quarantine: publisher });
      if (typeof sink === 'function') throw new Error('embedded ClickHouse should take grouped inserts');
      const consumer = new GatedConsumer({
        kafka,
        topic: cfg.eventsTopic,
        groupId,
        maxRecords: 250,
        partitionsConsumedConcurrently: 6,
        // As the speed layer runs by default: gate and encoding in a worker thread.
        gates: threadedGates<PreparedInsert>({
          options: { dimensions },
          preparer: INSERT_PREPARER,
          threads: 1,
        }),
        sink: wrap(sink),
      });
      consumers.push(consumer);
      await consumer.start();
      return consumer;
    },
    caughtUp: () => waitForCatchUp(kafka, groupId, cfg.eventsTopic, 90_000),
    positions: () => fetchPositions(admin, groupId, cfg.eventsTopic),
    orders: () => readOrders(clickhouse, dayFrom(start)),
    async close() {
      for (const consumer of consumers) await consumer.stop();
      await admin.disconnect();
      await publisher.disconnect();
      await clickhouse.close();
    },
  };
}

describe('speed consumers in one process', () => {
  it('replays a range that failed between insert and commit under the same token', async () => {
    const run = await inProcess('speed-c', 13, '2025-03-15T00:00:00Z');
    let inserts = 0;
    let failures = 0;
    try {
      // Every third insert (up to three) dies after it landed, before its commit. Inserts are
      // counted, not ranges: how many ranges a group holds depends on timing, but with 250-record
      // ranges, two in flight per partition and six partitions, 20,000 records make at least seven
      // groups.
      await run.consumer(
        aroundDeliveries(async (deliver) => {
          const newest = await deliver();
          if (++inserts % 3 === 0 && failures < 3) {
            failures++;
            throw new Error('injected failure before the commit');
          }
          return newest;
        }),
      );
      await run.caughtUp();
      expect(failures).toBeGreaterThanOrEqual(2);
      expect(await run.orders()).toEqual(expectedOrders(run.truth));
    } finally {
      await run.close();
    }
  }, 120_000);

  it('runs again after a crash that kafkajs does not restart', async () => {
    const run = await inProcess('speed-e', 15, '2025-03-29T00:00:00Z');
    let inserts = 0;
    let crashes = 0;
    try {
      // What a broker restart can end in: kafkajs stops a consumer for good on a non-retriable error.
      // Every third insert, up to three (at least seven groups come, as in the test above).
      await run.consumer(
        aroundDeliveries(async (deliver) => {
          if (++inserts % 3 === 0 && crashes < 3) {
            crashes++;
            throw new kafkajs.KafkaJSGroupCoordinatorNotFound();
          }
          return deliver();
        }),
      );
      await run.caughtUp();
      expect(crashes).toBeGreaterThanOrEqual(2);
      expect(await run.orders()).toEqual(expectedOrders(run.truth));
    } finally {
      await run.close();
    }
  }, 120_000);

  it('hands partitions over on rebalances without loss or double counting', async () => {
    const run = await inProcess('speed-d', 14, '2025-03-22T00:00:00Z');
    try {
      // Slow inserts keep records waiting while the group rebalances twice.
      const slow = aroundDeliveries(async (deliver) => {
        await sleep(200);
        return deliver();
      });
      const first = await run.consumer(slow);
      while (first.delivered === 0) await sleep(20);
      const second = await run.consumer(slow);
      while (second.delivered === 0) await sleep(20);
      await first.stop();
      await run.caughtUp();
      expect(await run.orders()).toEqual(expectedOrders(run.truth));
    } finally {
      await run.close();
    }
  }, 120_000);
});

describe('grouped inserts', () => {
  // A consumer dies inside a grouped insert, after announcing it: whoever owns its members next
  // must insert the group's staged block under its token, once per member, and ClickHouse must
  // keep it once, whether or not the dead consumer's insert had landed.
  it.each([
    ['after its insert landed', true],
    ['before its insert', false],
  ])(
    'finishes a group its owner died in %s',
    async (_, landed) => {
      const run = await inProcess(`speed-g${landed ? 'l' : 'n'}`, landed ? 16 : 17, '2025-04-05T00:00:00Z');
      try {
        let stages = 0;
        let died: string | undefined;
        const dead = () => new Error('the first consumer is dead');
        const first = await run.consumer((sink) => ({
          async stage(token, members) {
            if (died) throw dead();
            // Holding the first group lets the other partitions' ranges queue up behind it.
            if (++stages === 1) await sleep(500);
            const staged = await sink.stage(token, members);
            if (members.length < 2) return staged;
            return {
              async deliver() {
                if (landed) await staged.deliver();
                died = token;
                throw dead();
              },
              release: staged.release,
            };
          },
          async redeliver(token, member) {
            if (died) throw dead();
            return sink.redeliver(token, member);
          },
        }));
        for (let waited = 0; died === undefined; waited += 20) {
          if (waited > 30_000) throw new Error('no group of two or more ranges formed');
          await sleep(20);
        }
        await first.stop();
        const token = died;
        const announced = (await run.positions()).filter((p) => parsePending(p.metadata)?.group === token);
        expect(announced.length).toBeGreaterThanOrEqual(2);

        // The group's members, as the new owners finished them.
        const finished: number[] = [];
        const owner = (sink: GroupSink<PreparedInsert>): GroupSink<PreparedInsert> => ({
          stage: sink.stage,
          async redeliver(t, member) {
            const newest = await sink.redeliver(t, member);
            if (t === token) finished.push(member.partition);
            return newest;
          },
        });
        await run.consumer(owner);
        await run.consumer(owner);
        await run.caughtUp();
        expect(await run.orders()).toEqual(expectedOrders(run.truth));
        expect(finished.sort()).toEqual(announced.map((p) => p.partition).sort());
      } finally {
        await run.close();
      }
    },
    120_000,
  );
});

describe('speed consumer killed and restarted', () => {
  const KILLS = 4;

  /** `tidewater speed` as a child process. */
  function startChild(env: NodeJS.ProcessEnv, groupId: string): ChildProcess {
    // Small inserts and a short session: many ranges in flight to be killed in, quick failover.
    const args = ['speed', '--group', groupId, '--max-records', '500', '--session-timeout', '6000'];
    return startTidewater(args, env);
  }

  it(`leaves the rollups exact after ${KILLS} SIGKILLs mid-stream`, async () => {
    const { cfg, groupId, env } = await isolated('speed-b');
    const kafka = createKafka(cfg, 'test');
    const start = '2025-03-08T00:00:00Z';
    // Enough traffic that the fourth kill still lands mid-stream: a child consumes tens of thousands a second.
    const truth = await produceGenerated(kafka, cfg.eventsTopic, traffic(12, start, 200_000));
    const admin = kafka.admin();
    await admin.connect();
    const committed = async () =>
      (await fetchPositions(admin, groupId, cfg.eventsTopic)).reduce((sum, p) => sum + p.committed, 0);
    let killedMidRange = 0;

    try {
      for (let kill = 0; kill < KILLS; kill++) {
        const before = await committed();
        const child = startChild(env, groupId);
        // Kill only once this child consumes, at a random moment after.
        while ((await committed()) === before) await sleep(50);
        await sleep(Math.random() * 500);
        child.kill('SIGKILL');
        await exited(child);
        const positions = await fetchPositions(admin, groupId, cfg.eventsTopic);
        if (positions.some((p) => parsePending(p.metadata)?.first === p.committed)) killedMidRange++;
        expect(await committed(), `kill ${kill + 1} came after the consumer caught up`).toBeLessThan(
          truth.totals.emitted,
        );
      }
      const child = startChild(env, groupId);
      await waitForCatchUp(kafka, groupId, cfg.eventsTopic, 90_000);
      child.kill('SIGTERM');
      expect(await exited(child)).toBe(0);
      // Most kills land between announcing a range and committing it: the replay path ran.
      expect(killedMidRange).toBeGreaterThan(0);
    } finally {
      await admin.disconnect();
    }

    const client = createClickHouse({ dataDir: cfg.dataDir });
    try {
      expect(await readOrders(client, dayFrom(start))).toEqual(expectedOrders(truth));
    } finally {
      await client.close();
    }
    expect(await topicRecords(kafka, cfg.quarantineTopic)).toBe(0);
  }, 180_000);
});
