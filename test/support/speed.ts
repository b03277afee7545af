// Shared by the speed-layer tests: generated traffic into a topic with its ground truth, waiting
// for a consumer group to catch up, and the orders rollup read back for exact comparison.
import type { ClickHouseClient } from '@clickhouse/client';
import { createClickHouse, queryMetric, type TimeRange } from '../../clickhouse/index.ts';
import { buildDimensions, CATALOG, getMetric, indexDimensions, toRawRows } from '../../contracts/index.ts';
import {
  type GenerateOptions,
  GroundTruth,
  type GroundTruthReport,
  generate,
} from '../../generator/index.ts';
import type { Kafka } from '../../kafka/index.ts';
import { BatchingProducer } from '../../kafka/index.ts';
import { fetchPositions, lagOf } from '../../pipeline/index.ts';
import { createGate } from '../../quality/index.ts';
import { applySpeedLayerDdl, insertRaw } from '../../speed-layer/index.ts';
import { asMessages } from './messages.ts';

/** Produces `options`' records to `topic` (which must exist); returns what was sent. */
export async function produceGenerated(
  kafka: Kafka,
  topic: string,
  options: GenerateOptions,
): Promise<GroundTruthReport> {
  const truth = new GroundTruth();
  const producer = new BatchingProducer(kafka, { topic });
  await producer.connect();
  try {
    for (const record of generate(options)) {
      truth.add(record);
      await producer.push({ key: record.key, value: record.value });
    }
  } finally {
    await producer.disconnect();
  }
  return truth.toJSON();
}

/** Resolves once `groupId` has committed every record of `topic`; rejects after `timeoutMs`. */
export async function waitForCatchUp(
  kafka: Kafka,
  groupId: string,
  topic: string,
  timeoutMs: number,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const positions = await fetchPositions(admin, groupId, topic);
      const lag = positions.reduce((sum, p) => sum + lagOf(p), 0);
      if (lag === 0) return;
      if (Date.now() > deadline) throw new Error(`group ${groupId} still ${lag} records behind on ${topic}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await admin.disconnect();
  }
}

/** Records on `topic` (the sum of its partitions' high watermarks; nothing is deleted in a test). */
export async function topicRecords(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/** The ground truth's orders cells in the shape of the rollup rows, 64-bit figures as strings. */
export function expectedOrders(truth: GroundTruthReport) {
  return truth.orders.map((cell) => ({
    minute: cell.minute.replace('T', ' ').replace('Z', ''),
    region: cell.region,
    orders: String(cell.orders),
    revenue_minor: String(cell.revenueMinor),
    units: String(cell.units),
  }));
}

/** The orders speed view per minute and region (channels merged away). */
export function readOrders(client: ClickHouseClient, range: TimeRange) {
  return queryMetric(client, getMetric('orders'), range, { dimensions: ['region'] });
}

/** One orders cell as the tests compare them: minute in ms, figures as numbers. */
export interface OrderCell {
  minute: number;
  region: string;
  orders: number;
  revenue_minor: number;
  units: number;
}

const byMinuteAndRegion = (a: OrderCell, b: OrderCell) =>
  a.minute - b.minute || a.region.localeCompare(b.region);

/** The ground truth's orders cells of [from, to), ordered by minute and region. */
export function truthOrderCells(truth: GroundTruthReport, from: string, to: string): OrderCell[] {
  return expectedOrders(truth)
    .map((c) => ({
      minute: Date.parse(`${c.minute.replace(' ', 'T')}Z`),
      region: c.region,
      orders: Number(c.orders),
      revenue_minor: Number(c.revenue_minor),
      units: Number(c.units),
    }))
    .filter((c) => c.minute >= Date.parse(from) && c.minute < Date.parse(to))
    .sort(byMinuteAndRegion);
}

/** The rows of a GET /v1/metrics/orders?groupBy=region answer as cells. */
export function answerOrderCells(rows: readonly Record<string, unknown>[]): OrderCell[] {
  return rows.map((r) => ({
    minute: Date.parse(String(r.time)),
    region: String(r.region),
    orders: Number(r.orders),
    revenue_minor: Number(r.revenue_minor),
    units: Number(r.units),
  }));
}

/**
 * An embedded ClickHouse in `dataDir` whose speed view holds the good events of `traffic`, inserted
 * directly (no Kafka): for tests of what reads the speed view.
 */
export async function speedViewOf(dataDir: string, traffic: GenerateOptions): Promise<ClickHouseClient> {
  const accepted = createGate().run(asMessages(generate(traffic))).accepted;
  const dims = indexDimensions(buildDimensions());
  const client = createClickHouse({ dataDir });
  await applySpeedLayerDdl(client, CATALOG, { rawTtlDays: 10 * 365, dedupWindow: 1000 });
  await insertRaw(
    client,
    accepted.flatMap((r) => toRawRows(r.event, dims)),
    `speed-view-of-${traffic.seed ?? 0}`,
  );
  return client;
}
