// Shared by the orchestration tests: a lake written straight from generated traffic through the real
// gate (no Kafka), a unique queue prefix per test removed afterwards, and the batch view's orders
// per minute and region next to the ground truth's.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { batchTable } from '../../batch-layer/index.ts';
import { buildDimensions, getMetric, indexDimensions } from '../../contracts/index.ts';
import { type GenerateOptions, type GroundTruth, generate } from '../../generator/index.ts';
import { EVENTS_SCHEMA, lakeTableDir, openTable, stageAccepted } from '../../lake/index.ts';
import type { JobView, Orchestrator } from '../../orchestration/index.ts';
import { createGate } from '../../quality/index.ts';
import { asMessages } from './messages.ts';
import { expectedOrders } from './speed.ts';

/** Appends the gate-accepted records of each traffic in `batches` as one lake commit each. */
export async function writeLake(dataDir: string, traffic: GenerateOptions, truth: GroundTruth, commits = 1) {
  const gate = createGate();
  const messages = asMessages(generate(traffic), truth);
  const accepted = gate.run(messages).accepted;
  const dims = indexDimensions(buildDimensions());
  const table = await openTable(lakeTableDir(dataDir), EVENTS_SCHEMA);
  try {
    const size = Math.ceil(accepted.length / commits);
    let version = -1;
    for (let i = 0; i < accepted.length; i += size)
      version = (await table.appendBatch(stageAccepted(accepted.slice(i, i + size), dims))).version;
    return version;
  } finally {
    table.close();
  }
}

/** A bullmq prefix of this test's own; its keys are deleted after the file's tests. */
export function queuePrefix(name: string, redisUrl: string): string {
  const prefix = `test-${name}-${randomUUID().slice(0, 8)}`;
  afterAll(async () => {
    const redis = new Redis(redisUrl);
    try {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.unlink(...keys);
    } finally {
      redis.disconnect();
    }
  });
  return prefix;
}

/** The batch view's orders over [from, to) per minute and region, in expectedOrders' shape. */
export async function batchOrders(client: ClickHouseClient, from: string, to: string) {
  const result = await client.query({
    query: `SELECT formatDateTime(minute, '%Y-%m-%d %H:%i:%S') AS m, region,
                   toString(sum(orders)) AS orders, toString(sum(revenue_minor)) AS revenue_minor,
                   toString(sum(units)) AS units
            FROM ${batchTable(getMetric('orders'))}
            WHERE minute >= {from:DateTime} AND minute < {to:DateTime}
            GROUP BY m, region ORDER BY m, region`,
    query_params: { from: `${from} 00:00:00`, to: `${to} 00:00:00` },
    format: 'JSONEachRow',
  });
  const rows = await result.json<{
    m: string;
    region: string;
    orders: string;
    revenue_minor: string;
    units: string;
  }>();
  return rows.map(({ m, ...rest }) => ({ minute: m, ...rest }));
}

/** The ground truth's orders cells of [from, to), ordered as batchOrders. */
export function truthOrders(truth: GroundTruth, from: string, to: string) {
  return expectedOrders(truth.toJSON())
    .filter((c) => c.minute >= from && c.minute < to)
    .sort((a, b) => a.minute.localeCompare(b.minute) || a.region.localeCompare(b.region));
}

/** Polls job `id` until `done` says so; throws naming its last status after `timeoutMs`. */
export async function untilJob(
  o: Orchestrator,
  id: string,
  done: (j: JobView) => boolean,
  timeoutMs = 90_000,
): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await o.getJob(id).catch(() => undefined);
    if (job && done(job)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job?.status}`);
    await sleep(50);
  }
}

export const finished = (j: JobView) => ['completed', 'failed', 'cancelled'].includes(j.status);
