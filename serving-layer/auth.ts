// Who may call what. Every route belongs to an area (the table below, by route path); a key's role
// grants areas. A route missing from the table is admin-only, so a new route is closed until
// someone decides who may use it. Health, /metrics and /docs are open.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { ttlCache } from './cache.ts';
import { ApiError } from './errors.ts';
import type { ApiKey, KeyStore, Role } from './keys.ts';

type Area = 'open' | 'read' | 'ingest' | 'operate';

/** Route path prefixes and their area; the first match wins. */
const AREAS: [prefix: string, area: Area][] = [
  // The dashboard page itself is open: it asks for a key and sends it with every API call.
  ['/', 'open'],
  ['/dashboard', 'open'],
  ['/healthz', 'open'],
  ['/readyz', 'open'],
  ['/metrics', 'open'],
  ['/docs', 'open'],
  ['/v1/metrics', 'read'],
  ['/v1/dimensions', 'read'],
  ['/v1/sql', 'read'],
  ['/v1/live', 'read'],
  ['/v1/events', 'ingest'],
  ['/v1/backfills', 'operate'],
  ['/v1/jobs', 'operate'],
];

/** Engineers read what they recompute; admin may do everything, including routes of no area. */
const GRANTS: Record<Role, readonly Area[]> = {
  reader: ['read'],
  ingest: ['ingest'],
  engineer: ['read', 'operate'],
  admin: ['read', 'ingest', 'operate'],
};

/** Only the live stream takes the key in the query: EventSource cannot set headers. */
const QUERY_KEY_ROUTES = new Set(['/v1/live']);

export interface AuthOptions {
  keys: KeyStore;
  /** Shared counters of the per-key rate limit. */
  redis: Redis;
  prefix: string;
  /** Requests per key per minute; 0 turns the limit off. */
  rateLimitPerMinute: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    apiKey?: ApiKey;
  }
}

export function areaOf(routePath: string | undefined): Area | 'admin' {
  // No route: the not-found handler answers, and it reveals nothing.
  if (routePath === undefined) return 'open';
  return AREAS.find(([prefix]) => routePath === prefix || routePath.startsWith(`${prefix}/`))?.[1] ?? 'admin';
}

function presentedKey(request: FastifyRequest, routePath: string): string | undefined {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new ApiError(401, 'unauthorized', 'Authorization must be "Bearer <API key>"');
    return match[1];
  }
  if (QUERY_KEY_ROUTES.has(routePath)) {
    const key = (request.query as Record<string, unknown> | undefined)?.key;
    if (typeof key === 'string' && key !== '') return key;
  }
  return undefined;
}

export async function installAuth(app: FastifyInstance, options: AuthOptions): Promise<void> {
  const verify = keyVerifier(options.keys);
  app.addHook('onRequest', async (request, reply) => {
    const routePath = request.routeOptions.url;
    const area = areaOf(routePath);
    if (area === 'open') return;
    const secret = presentedKey(request, routePath as string);
    if (secret === undefined) {
      reply.header('WWW-Authenticate', 'Bearer');
      throw new ApiError(
        401,
        'unauthorized',
        'this route needs an API key: "Authorization: Bearer <key>" (tidewater keys create)',
      );
    }
    const key = await verify(secret);
    if (!key) {
      reply.header('WWW-Authenticate', 'Bearer error="invalid_token"');
      throw new ApiError(401, 'unauthorized', 'unknown or revoked API key');
    }
    const granted = area === 'admin' ? key.role === 'admin' : GRANTS[key.role].includes(area);
    if (!granted)
      throw new ApiError(403, 'forbidden', `the ${key.role} role may not use ${request.method} ${routePath}`);
    request.apiKey = key;
  });

  await installRateLimit(
    app,
    options,
    (max, after) =>
      new ApiError(
        429,
        'rate_limited',
        `more than ${max} requests per minute with this key; retry in ${after}`,
      ),
  );
}

/** A key's verdict, cached so that a revoked key stops working within this many ms everywhere. */
export const keyVerifier = (keys: KeyStore) => ttlCache(2_000, (secret) => keys.verify(secret));

/**
 * The per-key limit of requests per minute, counted in Redis under one name for every listener
 * (the REST API and the ClickHouse interface share a key's budget). Requests must carry
 * `request.apiKey` by `preParsing`; those without one are not counted.
 */
export async function installRateLimit(
  app: FastifyInstance,
  options: Pick<AuthOptions, 'redis' | 'prefix' | 'rateLimitPerMinute'>,
  tooMany: (max: number, after: string) => Error,
): Promise<void> {
  if (options.rateLimitPerMinute <= 0) return;
  await app.register(rateLimit, {
    global: true,
    // After authentication (onRequest), before a body is read.
    hook: 'preParsing',
    max: options.rateLimitPerMinute,
    timeWindow: 60_000,
    redis: options.redis,
    nameSpace: `${options.prefix}:rate-limit:`,
    keyGenerator: (request) => request.apiKey?.id ?? '',
    allowList: (request) => request.apiKey === undefined,
    errorResponseBuilder: (_request, context) => tooMany(context.max, context.after),
  });
}
