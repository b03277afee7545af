// The API as the platform runs it: every option of buildServer read from the configuration, on
// TIDEWATER_API_PORT. With auth on and no key in the store yet, an admin key is created and printed
// once, so that a newcomer's first `npm start` can open the API (and the dashboard) at all.
import type { ClickHouseClient } from '@clickhouse/client';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Config } from '../config/index.ts';
import { type LiveDimensions, openPlatformDimensions } from '../contracts/index.ts';
import { createKafka } from '../kafka/index.ts';
import type { Orchestrator } from '../orchestration/index.ts';
import { buildServer } from './app.ts';
import { buildClickHouseInterface } from './clickhouse-http/app.ts';
import { KeyStore } from './keys.ts';

export interface Serving {
  app: FastifyInstance;
  url: string;
  /** Where the ClickHouse interface for BI tools listens, unless it is off. */
  clickhouseUrl?: string;
  /** The secret of the admin key created at this start, if there was no key before. */
  bootstrapKey?: string;
  close(): Promise<void>;
}

async function engineVersion(clickhouse: ClickHouseClient): Promise<string> {
  const result = await clickhouse.query({ query: 'SELECT version() AS version', format: 'JSONEachRow' });
  const [row] = await result.json<{ version: string }>();
  return row?.version ?? 'unknown';
}

export async function startServing(
  cfg: Config,
  deps: {
    clickhouse: ClickHouseClient;
    registry?: Registry;
    orchestrator?: Orchestrator;
    host?: string;
    /** The process's dimensions, shared with its other gates; by default the API opens its own. */
    dimensions?: LiveDimensions;
  },
): Promise<Serving> {
  const dimensions =
    deps.dimensions ??
    (await openPlatformDimensions(cfg.dataDir, cfg.dimensionsRefreshSeconds * 1000, (error) =>
      console.error(
        `HTTP ingest: dimensions in ${cfg.dataDir} not refreshed, the previous ones stay: ${error.message}`,
      ),
    ));
  const redis = new Redis(cfg.redisUrl);
  const admin = createKafka(cfg, 'serve-probe').admin();
  const keys = new KeyStore(redis, cfg.queuePrefix);
  const bootstrapKey =
    cfg.auth && (await keys.list()).length === 0
      ? (await keys.create('admin', 'created at first start')).secret
      : undefined;
  const app = await buildServer({
    clickhouse: deps.clickhouse,
    dataDir: cfg.dataDir,
    registry: deps.registry,
    orchestrator: deps.orchestrator,
    logger: { level: cfg.logLevel === 'info' ? 'warn' : cfg.logLevel },
    probes: {
      redis: () => redis.ping(),
      kafka: async () => {
        await admin.connect();
        return admin.describeCluster();
      },
    },
    sql: {
      timeoutSeconds: cfg.sqlTimeoutSeconds,
      maxRows: cfg.sqlMaxRows,
      maxBytes: cfg.sqlMaxBytes,
      maxMemoryBytes: cfg.sqlMaxMemoryMb * 1024 * 1024,
      maxThreads: cfg.sqlMaxThreads,
      lanes: cfg.sqlSessions,
      database: cfg.sqlDatabase,
      readerUrl: cfg.sqlClickhouseUrl,
      cacheMs: cfg.sqlCacheMs,
    },
    maxRows: cfg.sqlMaxRows,
    redis: { client: redis, prefix: cfg.queuePrefix },
    cacheTtlSeconds: cfg.queryCacheTtlSeconds,
    speedRetentionHours: cfg.speedRetentionHours,
    auth: cfg.auth ? { keys, rateLimitPerMinute: cfg.rateLimitPerMinute } : undefined,
    liveMaxRate: cfg.liveMaxRate,
    ingest: {
      kafka: createKafka(cfg, 'ingest'),
      eventsTopic: cfg.eventsTopic,
      quarantineTopic: cfg.quarantineTopic,
      dimensions,
      allowedLatenessMinutes: cfg.allowedLatenessMinutes,
      maxBodyBytes: cfg.ingestMaxBytes,
      timeoutMs: cfg.ingestTimeoutMs,
    },
  });
  // An API without keys answers this machine only.
  const host = deps.host ?? (cfg.auth ? cfg.apiHost : '127.0.0.1');
  const url = await app.listen({ port: cfg.apiPort, host });
  const bi =
    cfg.clickhouseHttpPort === undefined
      ? undefined
      : await buildClickHouseInterface({
          sql: app.sqlService,
          version: await engineVersion(deps.clickhouse),
          auth: cfg.auth
            ? { keys, redis, prefix: cfg.queuePrefix, rateLimitPerMinute: cfg.rateLimitPerMinute }
            : undefined,
          logger: { level: cfg.logLevel === 'info' ? 'warn' : cfg.logLevel },
        });
  const clickhouseUrl = await bi?.listen({ port: cfg.clickhouseHttpPort, host });
  return {
    app,
    url,
    clickhouseUrl,
    bootstrapKey,
    async close() {
      await bi?.close();
      await app.close();
      await admin.disconnect();
      redis.disconnect();
      if (!deps.dimensions) dimensions.stop();
    },
  };
}
