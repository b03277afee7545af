// Serving latency: a merged 7-day per-minute query of `orders` grouped by region (5 days from the
// batch view, 2 from the speed view: 483,840 per-minute rollup rows of states merged per region),
// asked by 100 concurrent keep-alive connections from a load generator in a second process. The
// same week returned minute by minute (120,960 rows, about 12 MB of JSON per answer) is measured
// after it and reported as `per_minute_answer`. The rollup tables are filled in ClickHouse SQL with
// one row per minute, region and channel (the densest case: every cell of the week present), so the
// bench measures the serving path: plan, one merged query over both views, the answer on the wire.
// Last line: {"bench":"serve","p50_ms":N,"p99_ms":N,"req_per_s":N,"target_p99_ms":50,...}
// The API runs as the platform runs it, with the Redis query cache: the answer's key holds the
// boundary and the speed commit state, so for this settled week every request after the first is a
// hit. `nocache` measures every request going to ClickHouse.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { advanceWatermark, applyBatchViewDdl, batchTable, batchViewsDir } from '../batch-layer/index.ts';
import { createClickHouse } from '../clickhouse/index.ts';
import { loadConfig } from '../config/index.ts';
import { CATALOG, getMetric, metricTable } from '../contracts/index.ts';
import { buildServer } from '../serving-layer/index.ts';
import { applySpeedLayerDdl } from '../speed-layer/index.ts';
import { benchArgs, median, percentile, referenceCalibration, report, say } from './support.ts';

const args = benchArgs('npm run bench:serve -- [seconds=15] [concurrency=100] [cache|nocache]');
const SECONDS = args.number(0, 'seconds', 15);
const CONCURRENCY = args.number(1, 'concurrency', 100);
const CACHE = args.choice(2, 'cache', ['cache', 'nocache']) === 'cache';
args.done();
const TARGET_P99_MS = 50;
const DAY_MS = 86_400_000;
const START = Date.UTC(2025, 2, 3);
const END = START + 7 * DAY_MS;
const BATCH_END = START + 5 * DAY_MS;
const REGIONS = 12;
const CHANNELS = ['web', 'app', 'store', 'marketplace'];

const dataDir = mkdtempSync(join(tmpdir(), 'tidewater-bench-serve-'));
const client = createClickHouse({ dataDir });
try {
  await applySpeedLayerDdl(client, CATALOG);
  await applyBatchViewDdl(client, CATALOG);
  const orders = getMetric('orders');
  // Deterministic, varied figures per (minute, region, channel) from a hash of the cell.
  const fill = (table: string, from: number, to: number) =>
    client.command({
      query: `INSERT INTO ${table}
        SELECT toDateTime(${from / 1000} + intDiv(number, ${REGIONS * CHANNELS.length}) * 60, 'UTC') AS minute,
               concat('region-', toString(intDiv(number, ${CHANNELS.length}) % ${REGIONS})) AS region,
               [${CHANNELS.map((c) => `'${c}'`).join(', ')}][number % ${CHANNELS.length} + 1] AS channel,
               toUInt64(cityHash64(number) % 5 + 1) AS orders,
               toInt64(cityHash64(number, 1) % 50000 + 500) AS revenue_minor,
               toInt64(cityHash64(number, 2) % 9 + 1) AS units
        FROM numbers(${((to - from) / 60_000) * REGIONS * CHANNELS.length})`,
    });
  say('filling 7 days of the speed view and 5 days of the batch view...');
  await fill(metricTable(orders), START, END);
  await fill(batchTable(orders), START, BATCH_END);
  advanceWatermark(batchViewsDir(dataDir), { from: START, to: BATCH_END, now: END, allowedLatenessMs: 0 });

  const redis = CACHE ? new Redis(loadConfig().redisUrl) : undefined;
  const prefix = `bench-serve-${process.pid}`;
  const app = await buildServer({
    clickhouse: client,
    dataDir,
    logger: false,
    maxRows: 200_000,
    redis: redis && { client: redis, prefix },
  });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const range = `from=${new Date(START).toISOString()}&to=${new Date(END).toISOString()}`;

  /** `concurrency` connections asking `path` for SECONDS from a second process. */
  async function measure(path: string) {
    const probe = await app.inject({ method: 'GET', url: path });
    const answer = probe.json() as { rows: unknown[]; meta: { served: { layer: string }[] } };
    say(
      `${path}\n  one answer: ${answer.rows.length} rows, ${probe.rawPayload.length} bytes, served by ${answer.meta.served.map((s) => s.layer).join(' + ')}`,
    );
    say(`  load: ${CONCURRENCY} connections for ${SECONDS} s from a second process...`);
    // Asynchronously: the server answering the load lives in this process.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, 'serve-load.ts'),
        `${base}${path}`,
        String(CONCURRENCY),
        String(SECONDS),
      ],
      { encoding: 'utf8', maxBuffer: 1 << 28 },
    );
    const load = JSON.parse(stdout.trim().split('\n').at(-1) as string) as {
      latencies_ms: number[];
      requests: number;
      errors: number;
      seconds: number;
    };
    if (load.requests === 0) throw new Error(`no request answered (${load.errors} errors)`);
    const result = {
      p50_ms: Math.round(median(load.latencies_ms) * 10) / 10,
      p99_ms: Math.round(percentile(load.latencies_ms, 99) * 10) / 10,
      req_per_s: Math.round((load.requests / load.seconds) * 10) / 10,
      rows: answer.rows.length,
      bytes: probe.rawPayload.length,
      errors: load.errors,
    };
    say(
      `  ${load.requests} answers, p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms, ${result.req_per_s} req/s`,
    );
    return result;
  }

  // The bench query: 7 days of per-minute rollups from both layers, merged and grouped by region.
  const week = await measure(`/v1/metrics/orders?${range}&groupBy=region&grain=all`);
  // The same week returned minute by minute (a dashboard's week chart): 120,960 rows, ~12 MB.
  const minutes = await measure(`/v1/metrics/orders?${range}&groupBy=region`);
  await app.close();
  if (redis) {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.unlink(...keys);
    redis.disconnect();
  }
  report({
    bench: 'serve',
    p50_ms: week.p50_ms,
    p99_ms: week.p99_ms,
    req_per_s: week.req_per_s,
    target_p99_ms: TARGET_P99_MS,
    rows_per_answer: week.rows,
    per_minute_answer: minutes,
    concurrency: CONCURRENCY,
    query_cache: CACHE,
    errors: week.errors,
    calibration: referenceCalibration(),
  });
} finally {
  await client.close();
  rmSync(dataDir, { recursive: true, force: true });
}
