// The lake writer end to end: generated traffic through the real broker, the gate and the lake;
// the table then holds every accepted event exactly once and the quarantine topic every rejected
// record once, also after SIGKILLs mid-stream, and the batch layer's recompute and backfill over
// it equal the generator's ground truth.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { backfill, queryBatchView, recomputeMetrics } from '../batch-layer/index.ts';
import { createClickHouse, type MetricRow } from '../clickhouse/index.ts';
import type { Config } from '../config/index.ts';
import { getMetric, indexDimensions, loadPlatformDimensions } from '../contracts/index.ts';
import { openDuck } from '../duckdb/index.ts';
import type { GroundTruthReport } from '../generator/index.ts';
import type { Kafka } from '../kafka/index.ts';
import { createKafka } from '../kafka/index.ts';
import { CommitBuffer } from '../lake/commit-buffer.ts';
import {
  createLakeSink,
  EVENTS_SCHEMA,
  type LakeTable,
  lakeTableDir,
  openTable,
  startLakeWriter,
  txnAppId,
} from '../lake/index.ts';
import {
  type DeferredSink,
  fetchPositions,
  GatedConsumer,
  type GatedConsumerOptions,
  Lane,
  localGates,
  parseToken,
  type QuarantineTransactions,
} from '../pipeline/index.ts';
import { type AcceptedRecord, transactionalQuarantine } from '../quality/index.ts';
import { exited, startTidewater } from './support/child.ts';
import { imperfectTraffic, isolation } from './support/isolation.ts';
import { quarantinedSources } from './support/kafka.ts';
import { expectedOrders, produceGenerated, waitForCatchUp } from './support/speed.ts';

const isolated = isolation('lake-test');

const traffic = imperfectTraffic;

/** Events, rows and distinct eventIds of the table's latest snapshot. */
async function tableCounts(table: LakeTable) {
  const duck = await openDuck();
  try {
    const reader = await duck.connection.runAndReadAll(
      `SELECT count(*) FILTER (WHERE line_index = 0) AS events, count(*) AS rows,
              count(DISTINCT event_id) AS ids FROM ${table.readSql(await table.refresh())}`,
    );
    const [counts] = reader.getRowObjects() as { events: bigint; rows: bigint; ids: bigint }[];
    return { events: Number(counts?.events), rows: Number(counts?.rows), ids: Number(counts?.ids) };
  } finally {
    duck.close();
  }
}

/** The orders metric summed over channels, per minute and region, as the ground truth has it. */
function ordersByRegion(rows: readonly MetricRow[]) {
  const cells = new Map<
    string,
    { minute: string; region: string; orders: bigint; revenue_minor: bigint; units: bigint }
  >();
  for (const r of rows) {
    const key = `${r.minute}|${r.region}`;
    const cell = cells.get(key) ?? {
      minute: String(r.minute),
      region: String(r.region),
      orders: 0n,
      revenue_minor: 0n,
      units: 0n,
    };
    cell.orders += BigInt(r.orders as string);
    cell.revenue_minor += BigInt(r.revenue_minor as string);
    cell.units += BigInt(r.units as string);
    cells.set(key, cell);
  }
  return [...cells.values()]
    .sort((a, b) => a.minute.localeCompare(b.minute) || a.region.localeCompare(b.region))
    .map((c) => ({
      ...c,
      orders: String(c.orders),
      revenue_minor: String(c.revenue_minor),
      units: String(c.units),
    }));
}

const sortCells = (cells: ReturnType<typeof expectedOrders>) =>
  [...cells].sort((a, b) => a.minute.localeCompare(b.minute) || a.region.localeCompare(b.region));

async function expectExact(table: LakeTable, truth: GroundTruthReport, day: string) {
  expect(await tableCounts(table)).toMatchObject({ events: truth.totals.good, ids: truth.totals.good });
  const recomputed = await recomputeMetrics({
    files: await table.filesAt(),
    from: `${day}T00:00:00Z`,
    to: new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000),
    catalog: [getMetric('orders')],
  });
  const orders = recomputed.metrics.orders?.rows ?? [];
  expect(ordersByRegion(orders)).toEqual(sortCells(expectedOrders(truth)));
}

/** The quarantine topic holds each bad record once: the lake writer is its one publisher. */
async function expectQuarantinedOnce(kafka: Kafka, topic: string, truth: GroundTruthReport) {
  const sources = await quarantinedSources(kafka, topic);
  expect(truth.totals.bad).toBeGreaterThan(100);
  expect(sources).toHaveLength(truth.totals.bad);
  expect(new Set(sources).size).toBe(truth.totals.bad);
  return sources;
}

/**
 * The lake writer's parts, put together as startLakeWriter puts them, with a hand on its sink and
 * its quarantine transactions: the tests below wrap one of them to stall or to fail.
 */
async function lakeParts(cfg: Config, groupId: string, kafka: Kafka) {
  const table = await openTable(lakeTableDir(cfg.dataDir), EVENTS_SCHEMA);
  const buffer = new CommitBuffer(table, { maxBytes: 1 << 30, maxAgeMs: 200 });
  const dimensions = await loadPlatformDimensions(cfg.dataDir);
  const index = indexDimensions(dimensions);
  const sink = createLakeSink({ buffer, groupId, dimensions: () => index });
  const transactions = transactionalQuarantine({
    kafka,
    topic: cfg.quarantineTopic,
    groupId,
    sourceTopic: cfg.eventsTopic,
  });
  const consumer = (
    options: Partial<Pick<GatedConsumerOptions<readonly AcceptedRecord[]>, 'sink' | 'quarantine'>> &
      Pick<GatedConsumerOptions<readonly AcceptedRecord[]>, 'maxRecords' | 'sessionTimeoutMs'>,
  ) =>
    new GatedConsumer({
      kafka,
      topic: cfg.eventsTopic,
      groupId,
      maxInFlight: 1,
      gates: localGates({ dimensions }, () => (accepted) => accepted),
      sink,
      quarantine: transactions,
      ...options,
    });
  return { table, buffer, sink, transactions, consumer };
}

describe('lake writer in-process', () => {
  it('writes every accepted event once, and recompute and backfill equal the ground truth', async () => {
    const { cfg, groupId } = await isolated('lake-a');
    const kafka = createKafka(cfg, 'test');
    // Starts after midnight so that late events (up to 10 minutes early) stay on the same day.
    const start = '2025-04-01T00:15:00Z';
    const truth = await produceGenerated(kafka, cfg.eventsTopic, traffic(21, start, 30_000));
    // Commits by age every 200 ms: several versions, each holding several ranges.
    const writer = await startLakeWriter({ ...cfg, lakeCommitSeconds: 0.2 }, { groupId, maxRecords: 4_000 });
    try {
      await waitForCatchUp(kafka, groupId, cfg.eventsTopic, 90_000);
    } finally {
      await writer.stop();
    }
    const published = await expectQuarantinedOnce(kafka, cfg.quarantineTopic, truth);
    // A crash between a lake commit and its Kafka commit leaves Kafka's offsets behind the lake's
    // txn. Here they are set far behind by hand, inside ranges the writer committed: the restarted
    // writer must recognise by offset what the lake holds, and write nothing twice. (A crash leaves
    // the rejections past Kafka's offset unpublished, as they share its transactions; a rewind by
    // hand publishes those between the two offsets again, each once more.)
    const admin = kafka.admin();
    await admin.connect();
    let behind: Map<number, number>;
    try {
      behind = new Map(
        (await fetchPositions(admin, groupId, cfg.eventsTopic)).map((p) => [
          p.partition,
          Math.floor(p.committed / 2) + 7,
        ]),
      );
      await admin.setOffsets({
        groupId,
        topic: cfg.eventsTopic,
        partitions: [...behind].map(([partition, offset]) => ({ partition, offset: String(offset) })),
      });
    } finally {
      await admin.disconnect();
    }
    const first = await openTable(lakeTableDir(cfg.dataDir), EVENTS_SCHEMA);
    const before = first.current.version;
    first.close();
    const again = await startLakeWriter({ ...cfg, lakeCommitSeconds: 0.2 }, { groupId, maxRecords: 1_000 });
    try {
      await waitForCatchUp(kafka, groupId, cfg.eventsTopic, 90_000);
    } finally {
      await again.stop();
    }
    const rewound = published.filter((id) => {
      const [, partition, offset] = id.split(':');
      return Number(offset) >= (behind.get(Number(partition)) ?? Number.POSITIVE_INFINITY);
    });
    expect(rewound.length).toBeGreaterThan(0);
    expect((await quarantinedSources(kafka, cfg.quarantineTopic)).sort()).toEqual(
      [...published, ...rewound].sort(),
    );
    const table = await openTable(lakeTableDir(cfg.dataDir), EVENTS_SCHEMA);
    try {
      await expectExact(table, truth, '2025-04-01');
      const history = await table.history();
      expect(history.length).toBeGreaterThan(2);
      // The replayed ranges added no data file.
      expect(history.filter((h) => h.version > before).every((h) => h.filesAdded === 0)).toBe(true);

      const client = createClickHouse({ dataDir: cfg.dataDir });
      try {
        const result = await backfill({
          client,
          lakeDir: lakeTableDir(cfg.dataDir),
          viewsDir: join(cfg.dataDir, 'batch-views'),
          from: '2025-04-01T00:00:00Z',
          to: '2025-04-02T00:00:00Z',
          allowedLatenessMs: 15 * 60_000,
        });
        expect(result.days).toHaveLength(1);
        const served = await queryBatchView(client, getMetric('orders'), {
          from: new Date('2025-04-01T00:00:00Z'),
          to: new Date('2025-04-02T00:00:00Z'),
        });
        expect(ordersByRegion(served)).toEqual(sortCells(expectedOrders(truth)));
      } finally {
        await client.close();
      }
    } finally {
      table.close();
    }
  }, 180_000);
});

describe('lake writer whose offset commits die after its lake commits', () => {
  it('publishes, once, the rejections of ranges the lake holds and Kafka never committed', async () => {
    const { cfg, groupId } = await isolated('lake-c');
    const kafka = createKafka(cfg, 'test');
    const truth = await produceGenerated(kafka, cfg.eventsTopic, traffic(23, '2025-04-15T00:15:00Z', 15_000));
    // The lake writer's parts, but every quarantine transaction is aborted after its records and
    // offsets are sent, as when the writer dies between its lake commit and that transaction's
    // commit. Each failure ends the partition's lane and the consumer starts it over from Kafka.
    const { table, buffer, transactions, consumer: lakeConsumer } = await lakeParts(cfg, groupId, kafka);
    let aborted = 0;
    const dying: QuarantineTransactions = {
      async open(partition) {
        const producer = await transactions.open(partition);
        return {
          async commit(offset, records) {
            const killed = new Lane();
            killed.end(new Error('killed after the lake commit'));
            aborted += records.length;
            await producer.commit(offset, records, killed);
          },
          close: () => producer.close(),
        };
      },
    };
    const consumer = lakeConsumer({ maxRecords: 2_000, quarantine: dying });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await consumer.start();
      const ends = await admin.fetchTopicOffsets(cfg.eventsTopic);
      const held = async () => {
        for (const { partition, high } of ends)
          if (((await table.txnVersion(txnAppId(groupId, cfg.eventsTopic, partition))) ?? 0) < Number(high))
            return false;
        return true;
      };
      const deadline = Date.now() + 90_000;
      while (!(await held())) {
        if (Date.now() > deadline) throw new Error('the lake did not take every record');
        await sleep(200);
      }
      await Promise.all([consumer.stop(), buffer.drain()]);
      // Rejections were sent, in transactions that never committed, and no offset moved.
      expect(aborted).toBeGreaterThan(0);
      expect(await quarantinedSources(kafka, cfg.quarantineTopic)).toEqual([]);
      const positions = await fetchPositions(admin, groupId, cfg.eventsTopic);
      expect(positions.every((p) => p.committed <= 0)).toBe(true);
    } finally {
      await admin.disconnect();
      table.close();
    }
    const version = table.current.version;
    const writer = await startLakeWriter({ ...cfg, lakeCommitSeconds: 0.2 }, { groupId, maxRecords: 1_000 });
    try {
      await waitForCatchUp(kafka, groupId, cfg.eventsTopic, 90_000);
    } finally {
      await writer.stop();
    }
    // The restarted writer wrote nothing (the lake held it all) and published every rejection once.
    await expectQuarantinedOnce(kafka, cfg.quarantineTopic, truth);
    const reopened = await openTable(lakeTableDir(cfg.dataDir), EVENTS_SCHEMA);
    try {
      expect(reopened.current.version).toBe(version);
      await expectExact(reopened, truth, '2025-04-15');
    } finally {
      reopened.close();
    }
  }, 180_000);
});

describe('lake writer whose sink holds a range longer than the group session', () => {
  it('stays in the group while a range waits for room, and takes each record once', async () => {
    const { cfg, groupId } = await isolated('lake-d');
    const kafka = createKafka(cfg, 'test');
    const truth = await produceGenerated(kafka, cfg.eventsTopic, traffic(25, '2025-04-20T00:15:00Z', 12_000));
    const { table, buffer, sink, consumer: lakeConsumer } = await lakeParts(cfg, groupId, kafka);
    // Each partition's first range is held past the 6 s session, as behind a slow lake commit on a
    // busy machine: its next range waits for room (one in flight) inside kafkajs's batch handler.
    // A member that did not heartbeat meanwhile was evicted and took its ranges again from Kafka.
    const SESSION_MS = 6_000;
    const stalled = new Set<number>();
    const taken: string[] = [];
    const slow: DeferredSink<readonly AcceptedRecord[]> = {
      flush: () => sink.flush(),
      async take(token, range) {
        taken.push(token);
        const { partition } = parseToken(token);
        if (!stalled.has(partition)) {
          stalled.add(partition);
          await sleep(SESSION_MS * 1.5);
        }
        return sink.take(token, range);
      },
    };
    const consumer = lakeConsumer({ maxRecords: 500, sessionTimeoutMs: SESSION_MS, sink: slow });
    try {
      await consumer.start();
      await waitForCatchUp(kafka, groupId, cfg.eventsTopic, 120_000);
      await Promise.all([consumer.stop(), buffer.drain()]);
      expect(stalled.size).toBe(cfg.eventsPartitions);
      // No range was taken twice: no member lost its partitions mid-range.
      const ranges = taken.map(parseToken);
      const records = ranges.reduce((sum, { range }) => sum + range.last - range.first + 1, 0);
      expect(new Set(taken).size).toBe(taken.length);
      expect(records).toBe(truth.totals.emitted);
      await expectExact(table, truth, '2025-04-20');
      await expectQuarantinedOnce(kafka, cfg.quarantineTopic, truth);
    } finally {
      table.close();
    }
  }, 180_000);
});

describe('lake writer killed and restarted', () => {
  const KILLS = 3;

  function startChild(env: NodeJS.ProcessEnv, groupId: string): ChildProcess {
    const args = ['lake', 'write', '--group', groupId, '--max-records', '1000', '--session-timeout', '6000'];
    // Staged ranges wait up to a quarter second for their commit: kills land between staging and
    // commit too, and commits are small enough that the writer is still mid-stream at the kill (at
    // a second, one commit could take all that was left).
    return startTidewater(args, { ...env, TIDEWATER_LAKE_COMMIT_SECONDS: '0.25' });
  }

  it(`holds every accepted event exactly once after ${KILLS} SIGKILLs`, async () => {
    const { cfg, groupId, env } = await isolated('lake-b');
    const kafka = createKafka(cfg, 'test');
    const start = '2025-04-08T00:15:00Z';
    const truth = await produceGenerated(kafka, cfg.eventsTopic, traffic(22, start, 30_000));
    const admin = kafka.admin();
    await admin.connect();
    const committed = async () =>
      (await fetchPositions(admin, groupId, cfg.eventsTopic)).reduce((sum, p) => sum + p.committed, 0);
    try {
      for (let kill = 0; kill < KILLS; kill++) {
        // A random point in the first third of what is left: the poll lands the kill anywhere in
        // the batch after it, and however fast the writer is, every kill comes mid-stream.
        const before = await committed();
        const target = before + Math.ceil((Math.random() * (truth.totals.emitted - before)) / 3);
        const child = startChild(env, groupId);
        while ((await committed()) < target) await sleep(20);
        child.kill('SIGKILL');
        await exited(child);
        expect(await committed(), `kill ${kill + 1} came after the writer caught up`).toBeLessThan(
          truth.totals.emitted,
        );
      }
      const child = startChild(env, groupId);
      await waitForCatchUp(kafka, groupId, cfg.eventsTopic, 120_000);
      child.kill('SIGTERM');
      expect(await exited(child)).toBe(0);
    } finally {
      await admin.disconnect();
    }
    // Published in the transactions that committed the ranges: once, however often a range was redone.
    await expectQuarantinedOnce(kafka, cfg.quarantineTopic, truth);
    const table = await openTable(lakeTableDir(cfg.dataDir), EVENTS_SCHEMA);
    try {
      await expectExact(table, truth, '2025-04-08');
    } finally {
      table.close();
    }
  }, 240_000);
});
