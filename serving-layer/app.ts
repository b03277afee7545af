// The serving layer as one fastify app: zod schemas validate requests and generate the OpenAPI
// document (/docs/json, interactive at /docs); each route family is a plugin over one context.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import { readSpeedState } from '../speed-layer/index.ts';
import { installAuth } from './auth.ts';
import { ServingContext, type ServingOptions } from './context.ts';
import { installErrorHandling } from './errors.ts';
import { Ingestor } from './ingest.ts';
import { LiveHub } from './live.ts';
import { backfillRoutes } from './routes/backfills.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { dimensionsRoutes } from './routes/dimensions.ts';
import { healthRoutes } from './routes/health.ts';
import { ingestRoutes } from './routes/ingest.ts';
import { liveRoutes } from './routes/live.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { retiredTablesRoutes } from './routes/retired-tables.ts';
import { type SqlAvailability, sqlRoutes } from './routes/sql.ts';
import { SqlService } from './sql/index.ts';

export const API_VERSION = '1.0.0';

declare module 'fastify' {
  interface FastifyInstance {
    /** The SQL endpoint's service, shared with the ClickHouse interface (clickhouse-http/). */
    sqlService: SqlAvailability;
  }
}

/** What an SQL answer depends on besides its statement: the speed view's commits and the boundary. */
function answersDependOn(ctx: ServingContext, redis: { client: Redis; prefix: string }) {
  return async () => {
    const { seq } = await readSpeedState(redis.client, redis.prefix);
    const b = ctx.boundary();
    return JSON.stringify([seq, b?.since, b?.watermark, b?.batchVersion, b?.lakeVersion]);
  };
}

/** How often a SQL endpoint that could not open tries again. */
const SQL_RETRY_MS = 5_000;

/**
 * The SQL endpoint's service. One that cannot open answers 503 with the reason (logged once) and
 * is tried again until it opens: a serving process may start before the speed layer has created
 * the tables its views read, or before a ClickHouse server is up.
 */
async function openSql(ctx: ServingContext, app: FastifyInstance): Promise<SqlAvailability> {
  const availability: SqlAvailability = { unavailable: 'the SQL endpoint is opening' };
  let retry: NodeJS.Timeout | undefined;
  let closed = false;
  app.addHook('onClose', async () => {
    closed = true;
    clearTimeout(retry);
    await availability.service?.close();
  });
  const attempt = async (first: boolean) => {
    try {
      const service = await openSqlService(ctx);
      if (closed) return void (await service.close());
      service.views.follow(1_000, (error) => app.log.error({ err: error }, 'SQL views not refreshed'));
      availability.service = service;
      if (!first) app.log.info('the SQL endpoint is on');
    } catch (error) {
      availability.unavailable = `the SQL endpoint is off: ${(error as Error).message}`;
      if (first)
        app.log.error({ err: error }, `the SQL endpoint is off; trying again every ${SQL_RETRY_MS / 1000} s`);
      if (!closed) retry = setTimeout(() => void attempt(false), SQL_RETRY_MS).unref();
    }
  };
  await attempt(true);
  return availability;
}

function openSqlService(ctx: ServingContext): Promise<SqlService> {
  const { sql = {} } = ctx.options;
  const timeoutSeconds = sql.timeoutSeconds ?? 10;
  return SqlService.open({
    clickhouse: ctx.clickhouse,
    catalog: ctx.catalog,
    boundary: () => ctx.boundary(),
    database: sql.database ?? 'tidewater',
    lanes: sql.lanes ?? 2,
    readerUrl: sql.readerUrl,
    quarantineFiles: async () => (await ctx.quarantine()).files(),
    cacheMs: sql.cacheMs ?? 1_000,
    state: ctx.options.redis && answersDependOn(ctx, ctx.options.redis),
    limits: {
      timeoutSeconds,
      maxRows: sql.maxRows ?? 250_000,
      maxBytes: sql.maxBytes ?? 64 << 20,
      maxMemoryBytes: sql.maxMemoryBytes ?? 1 << 30,
      maxThreads: sql.maxThreads ?? 1,
    },
  });
}

export async function buildServer(options: ServingOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? { level: 'warn' },
    bodyLimit: 1 << 20,
    // Request ids in logs and error bodies let an operator find a failure a user reports.
    genReqId: () => Math.random().toString(36).slice(2, 10),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandling(app);

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'tidewater',
        description:
          'Merged batch + speed retail metrics, read-only SQL for BI tools, backfills and jobs. ' +
          'Every error is `{ "error": { "code", "message" } }`. Routes other than health, /metrics and ' +
          '/docs take an API key: `Authorization: Bearer <key>`.',
        version: API_VERSION,
      },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
      security: [{ apiKey: [] }],
      tags: [
        { name: 'metrics', description: 'The metric catalog and merged answers' },
        { name: 'sql', description: 'Read-only SQL over the merged metric tables' },
        { name: 'jobs', description: 'Backfills and background jobs' },
        { name: 'ingest', description: 'Events over HTTP, through the quality gate into Kafka' },
        { name: 'health', description: 'Liveness, readiness, Prometheus metrics' },
        { name: 'admin', description: 'Administrators only: tables of earlier metric versions' },
      ],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const ctx = new ServingContext(options);
  const { redis, auth } = options;
  if (auth) {
    if (!redis) throw new Error('API keys need the shared Redis (options.redis)');
    await installAuth(app, {
      ...redis,
      redis: redis.client,
      keys: auth.keys,
      rateLimitPerMinute: auth.rateLimitPerMinute ?? 0,
    });
  }
  const ingestor = options.ingest && new Ingestor(options.ingest);
  const hub = redis && new LiveHub(redis.client, redis.prefix);
  app.addHook('onClose', async () => {
    await Promise.all([ctx.close(), ingestor?.close(), hub?.close()]);
  });
  await app.register(healthRoutes, { ctx });
  await app.register(metricsRoutes, { ctx });
  await app.register(dimensionsRoutes, { ctx });
  const sql = await openSql(ctx, app);
  app.decorate('sqlService', { getter: () => sql });
  await app.register(sqlRoutes, { ctx, sql });
  await app.register(backfillRoutes, { ctx });
  await app.register(retiredTablesRoutes, { ctx });
  await app.register(ingestRoutes, { ingestor, maxBodyBytes: options.ingest?.maxBodyBytes ?? 1 << 20 });
  await app.register(liveRoutes, { ctx, hub, maxRate: options.liveMaxRate ?? 4 });
  await app.register(dashboardRoutes);
  return app;
}
