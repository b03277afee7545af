// BI tools on the ClickHouse interface while the speed layer ingests: `connections` keep-alive
// connections from a second process (bench/bi-load.ts) run a live dashboard's statements through
// the interface for `seconds`, while a third process (bench/speed-load.ts) produces `rate` events/s
// into the topic this process's speed layer consumes. The speed layer, the API and the interface
// share this process and its embedded ClickHouse, as `npm start` runs them (gates on the event loop,
// the all-in-one default; commit notices on Redis, by which identical statements share answers
// for at most TIDEWATER_SQL_CACHE_MS: `TIDEWATER_SQL_CACHE_MS=0` measures every statement run).
// The speed layer's lag is read from Kafka every second, in seconds of the offered rate.
// Last line: {"bench":"bi","p50_ms":N,"p99_ms":N,"queries_per_s":N,"speed_lag_max_s":N,
//   "target_p99_ms":500,"target_speed_lag_s":5,"calibration":{...}}
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { loadConfig } from '../config/index.ts';
import { createKafka, ensureTopics, platformTopics } from '../kafka/index.ts';
import { fetchPositions, lagOf } from '../pipeline/index.ts';
import { buildClickHouseInterface } from '../serving-layer/clickhouse-http/app.ts';
import { buildServer } from '../serving-layer/index.ts';
import { connectCommitPublisher, startSpeedLayer } from '../speed-layer/index.ts';
import {
  benchArgs,
  median,
  PLATFORM_NODE_FLAGS,
  percentile,
  referenceCalibration,
  report,
  say,
} from './support.ts';

const args = benchArgs('npm run bench:bi -- [seconds=60] [connections=20] [events per second=20000]');
const SECONDS = args.number(0, 'seconds', 60);
const CONNECTIONS = args.number(1, 'connections', 20);
const RATE = args.number(2, 'events per second', 20_000);
args.done();
const TARGET_P99_MS = 500;
const TARGET_LAG_S = 5;
/** Ingest runs alone this long first, so that the dashboard reads minutes that hold data. */
const WARMUP_SECONDS = 10;

/** A live retail dashboard's panels over the last hour, as a BI tool asks for them. */
const DASHBOARD = [
  'SELECT minute, region, sum(revenue_minor) AS revenue FROM orders WHERE minute >= now() - INTERVAL 1 HOUR GROUP BY minute, region ORDER BY minute',
  'SELECT region, sum(orders) AS orders, sum(revenue_minor) AS revenue FROM orders WHERE minute >= now() - INTERVAL 1 HOUR GROUP BY region ORDER BY revenue DESC',
  'SELECT minute, sum(users) AS users FROM active_users WHERE minute >= now() - INTERVAL 1 HOUR GROUP BY minute ORDER BY minute',
  'SELECT product_id, sum(views) AS views FROM product_engagement WHERE minute >= now() - INTERVAL 1 HOUR GROUP BY product_id ORDER BY views DESC LIMIT 10',
  'SELECT category, sum(units) AS units FROM sales_by_category WHERE minute >= now() - INTERVAL 1 HOUR GROUP BY category ORDER BY units DESC',
  'SELECT channel, count() AS minutes, sum(orders) AS orders FROM orders WHERE minute >= now() - INTERVAL 15 MINUTE GROUP BY channel',
];

const id = randomUUID().slice(0, 8);
const dataDir = mkdtempSync(join(tmpdir(), 'tidewater-bench-bi-'));
const env = {
  TIDEWATER_EVENTS_TOPIC: `bench-bi-${id}`,
  TIDEWATER_QUARANTINE_TOPIC: `bench-bi-${id}.quarantine`,
  TIDEWATER_DATA_DIR: dataDir,
  TIDEWATER_SPEED_GATE_THREADS: '0',
  TIDEWATER_QUEUE_PREFIX: `bench-bi-${id}`,
  LOG_LEVEL: 'error',
};
const cfg = loadConfig({ ...process.env, ...env });
const groupId = `bench-bi-${id}`;
const admin = createKafka(cfg, 'bench').admin();
await admin.connect();
await ensureTopics(admin, platformTopics(cfg));

const lagSeconds = async () =>
  (await fetchPositions(admin, groupId, cfg.eventsTopic)).reduce((sum, p) => sum + lagOf(p), 0) / RATE;

const redis = new Redis(cfg.redisUrl);

try {
  // Wired as `npm start` wires them: commit notices on Redis, which answers shared between
  // identical statements follow (TIDEWATER_SQL_CACHE_MS).
  const commits = connectCommitPublisher(cfg);
  const speed = await startSpeedLayer(cfg, { groupId, commits: commits.publisher });
  const app = await buildServer({
    clickhouse: speed.clickhouse,
    dataDir,
    logger: false,
    redis: { client: redis, prefix: cfg.queuePrefix },
    sql: { cacheMs: cfg.sqlCacheMs },
  });
  const bi = await buildClickHouseInterface({ sql: app.sqlService, version: 'bench', logger: false });
  const url = await bi.listen({ host: '127.0.0.1', port: 0 });
  try {
    say(
      `producing ${RATE.toLocaleString('en')} events/s into ${cfg.eventsTopic}; ${WARMUP_SECONDS} s of ingest alone...`,
    );
    const load = spawn(
      process.execPath,
      [
        ...PLATFORM_NODE_FLAGS,
        '--import',
        'tsx',
        join(import.meta.dirname, 'speed-load.ts'),
        String(RATE),
        String(SECONDS + WARMUP_SECONDS + 5),
      ],
      { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const loadDone = new Promise((resolve) => load.once('exit', resolve));
    await sleep(WARMUP_SECONDS * 1000);

    say(`${CONNECTIONS} BI connections for ${SECONDS} s from a second process...`);
    const dashboard = promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, 'bi-load.ts'),
        `${url}/?default_format=JSONCompact`,
        String(CONNECTIONS),
        String(SECONDS),
        JSON.stringify(DASHBOARD),
      ],
      { encoding: 'utf8', maxBuffer: 1 << 28 },
    );
    let lagMax = 0;
    let finished = false;
    dashboard.finally(() => {
      finished = true;
    });
    while (!finished) {
      lagMax = Math.max(lagMax, await lagSeconds());
      await sleep(1_000);
    }
    const { stdout } = await dashboard;
    const result = JSON.parse(stdout.trim().split('\n').at(-1) as string) as {
      latencies_ms: number[];
      requests: number;
      errors: number;
      firstError?: string;
      seconds: number;
    };
    if (result.requests === 0) throw new Error(`no statement answered: ${result.firstError}`);
    if (result.errors > 0) say(`  ${result.errors} errors, the first: ${result.firstError}`);
    const figures = {
      p50_ms: Math.round(median(result.latencies_ms) * 10) / 10,
      p99_ms: Math.round(percentile(result.latencies_ms, 99) * 10) / 10,
      queries_per_s: Math.round((result.requests / result.seconds) * 10) / 10,
      speed_lag_max_s: Math.round(lagMax * 100) / 100,
    };
    say(
      `  ${result.requests} answers, p50 ${figures.p50_ms} ms, p99 ${figures.p99_ms} ms, ${figures.queries_per_s} statements/s; speed lag at most ${figures.speed_lag_max_s} s`,
    );
    load.kill();
    await loadDone;
    report({
      bench: 'bi',
      ...figures,
      target_p99_ms: TARGET_P99_MS,
      target_speed_lag_s: TARGET_LAG_S,
      connections: CONNECTIONS,
      events_per_s_offered: RATE,
      errors: result.errors,
      answers_shared_ms: cfg.sqlCacheMs,
      calibration: referenceCalibration(),
    });
  } finally {
    await bi.close();
    await app.close();
    await speed.stop();
    commits.close();
  }
} finally {
  const keys = await redis.keys(`${cfg.queuePrefix}:*`);
  if (keys.length > 0) await redis.unlink(...keys);
  redis.disconnect();
  await admin.deleteTopics({ topics: [cfg.eventsTopic, cfg.quarantineTopic] }).catch(() => undefined);
  await admin.disconnect();
  rmSync(dataDir, { recursive: true, force: true });
}
