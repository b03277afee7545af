// A correction killed mid-way: a worker process running the backfill a correction scan enqueued for
// late events is killed with SIGKILL; another worker takes the job over once its lock expires, and
// the merged answer then equals the ground truth exactly, from the batch view, with nothing pending.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { backfill, batchViewsDir } from '../batch-layer/index.ts';
import { createClickHouse } from '../clickhouse/index.ts';
import { loadConfig } from '../config/index.ts';
import { CATALOG } from '../contracts/index.ts';
import { GroundTruth, generate } from '../generator/index.ts';
import { lakeTableDir } from '../lake/index.ts';
import { createOrchestrator } from '../orchestration/index.ts';
import { buildServer } from '../serving-layer/index.ts';
import { applySpeedLayerDdl } from '../speed-layer/index.ts';
import { exited, startTidewater } from './support/child.ts';
import { ingestBoth, minuteOfTraffic } from './support/late.ts';
import { finished, queuePrefix, untilJob } from './support/orchestration.ts';
import { answerOrderCells, truthOrderCells } from './support/speed.ts';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const dataDir = mkdtempSync(join(tmpdir(), 'tidewater-late-crash-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

it('a correction killed mid-way is taken over and the merged answer is exact', async () => {
  const env = {
    ...process.env,
    TIDEWATER_DATA_DIR: dataDir,
    TIDEWATER_QUEUE_PREFIX: queuePrefix('late-crash', loadConfig().redisUrl),
    TIDEWATER_CORRECTION_DELAY_SECONDS: '0',
    LOG_LEVEL: 'error',
  };
  const cfg = loadConfig(env);
  const truth = new GroundTruth();
  const today = Math.floor(Date.now() / DAY) * DAY;
  const from = today - DAY;
  const range = { from: new Date(from).toISOString(), to: new Date(today).toISOString() };

  // Yesterday in both layers and recomputed; then late events for two of its hours.
  let client = createClickHouse({ dataDir });
  await applySpeedLayerDdl(client, CATALOG, { rawTtlDays: 10 * 365, dedupWindow: 1000 });
  const history = [...generate({ seed: 5, start: from, count: 30_000, rate: 30_000 / 86_400 })];
  await ingestBoth(client, dataDir, history, truth, 'history');
  await backfill({
    client,
    lakeDir: lakeTableDir(dataDir),
    viewsDir: batchViewsDir(dataDir),
    from: range.from,
    to: range.to,
    allowedLatenessMs: 0,
  });
  for (const [i, at] of [from + 3 * HOUR, from + 17 * HOUR].entries())
    await ingestBoth(
      client,
      dataDir,
      [...generate({ seed: 6 + i, ...minuteOfTraffic(at, 50) })],
      truth,
      `late-${i}`,
    );
  // The worker processes own the ClickHouse data directory while they run.
  await client.close();

  const worker = () =>
    startTidewater(['worker', '--queues', 'correction,backfill', '--lock-duration', '2000'], env);
  const o = createOrchestrator(cfg);
  try {
    const first = worker();
    const { job: scan } = await o.enqueue('correction', {});
    const scanned = await untilJob(o, scan.id, finished, 120_000);
    expect(scanned.status, JSON.stringify(scanned)).toBe('completed');
    const enqueued = (scanned.result as { enqueued: { day: string; job: string }[] }).enqueued;
    expect(enqueued.map((e) => e.day)).toEqual([range.from.slice(0, 10)]);
    const id = enqueued[0]?.job ?? '';
    const running = await untilJob(o, id, (j) => j.status === 'active' || finished(j), 120_000);
    first.kill('SIGKILL');
    await exited(first);
    expect(running.status, 'killed while the correction ran').toBe('active');

    const second = worker();
    const done = await untilJob(o, id, finished, 180_000);
    second.kill('SIGTERM');
    expect(await exited(second)).toBe(0);
    expect(done.status, JSON.stringify(done)).toBe('completed');
    expect(done.attempts.made).toBeGreaterThanOrEqual(2);
  } finally {
    await o.close();
  }

  client = createClickHouse({ dataDir });
  const app = await buildServer({ clickhouse: client, dataDir, logger: false });
  try {
    const response = await app.inject({
      method: 'GET',
      url: `/v1/metrics/orders?from=${range.from}&to=${range.to}&groupBy=region`,
    });
    expect(response.statusCode, response.body).toBe(200);
    const answer = response.json() as {
      rows: Record<string, unknown>[];
      meta: { served: { layer: string }[]; corrections: { pending: unknown[] } };
    };
    expect(answerOrderCells(answer.rows)).toEqual(truthOrderCells(truth.toJSON(), range.from, range.to));
    expect(answer.meta.served.map((s) => s.layer)).toEqual(['batch']);
    expect(answer.meta.corrections.pending).toEqual([]);
  } finally {
    await app.close();
    await client.close();
  }
}, 400_000);
