// A worker process killed with SIGKILL mid-backfill: another worker takes the job over once its
// lock expires, and the batch view then equals the ground truth exactly.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { readWatermark } from '../batch-layer/index.ts';
import { createClickHouse } from '../clickhouse/index.ts';
import { loadConfig } from '../config/index.ts';
import { GroundTruth } from '../generator/index.ts';
import { createOrchestrator } from '../orchestration/index.ts';
import { exited, startTidewater } from './support/child.ts';
import { batchOrders, queuePrefix, truthOrders, untilJob, writeLake } from './support/orchestration.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'tidewater-orch-crash-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

it('a worker killed mid-job is replaced and the result is exact', async () => {
  const env = {
    ...process.env,
    TIDEWATER_DATA_DIR: dataDir,
    TIDEWATER_QUEUE_PREFIX: queuePrefix('crash', loadConfig().redisUrl),
    LOG_LEVEL: 'error',
  };
  const cfg = loadConfig(env);
  const truth = new GroundTruth();
  await writeLake(
    dataDir,
    {
      seed: 61,
      count: 12_000,
      start: '2025-09-01T00:15:00Z',
      rate: 12_000 / (3.9 * 86_400),
      lateFraction: 0.02,
      duplicateFraction: 0.01,
      badFraction: 0.01,
    },
    truth,
    2,
  );
  const worker = () => startTidewater(['worker', '--queues', 'backfill', '--lock-duration', '2000'], env);
  const o = createOrchestrator(cfg);
  try {
    const first = worker();
    const { job } = await o.requestBackfill({ from: '2025-09-01', to: '2025-09-05' });
    const running = await untilJob(o, job.id, (j) => (j.progress?.fraction ?? 0) > 0, 120_000);
    first.kill('SIGKILL');
    await exited(first);
    expect(running.progress?.fraction, 'killed before the job ended').toBeLessThan(1);

    const second = worker();
    const done = await untilJob(o, job.id, (j) => j.status === 'completed' || j.status === 'failed', 120_000);
    second.kill('SIGTERM');
    expect(await exited(second)).toBe(0);
    expect(done.status).toBe('completed');
    expect(done.attempts.made).toBeGreaterThanOrEqual(2);
  } finally {
    await o.close();
  }
  // The children are gone: this process may now own the ClickHouse data directory.
  const client = createClickHouse({ dataDir });
  try {
    expect(readWatermark(join(dataDir, 'batch-views'))?.watermark).toBe('2025-09-05T00:00:00.000Z');
    expect(await batchOrders(client, '2025-09-01', '2025-09-05')).toEqual(
      truthOrders(truth, '2025-09-01', '2025-09-05'),
    );
  } finally {
    await client.close();
  }
}, 240_000);
