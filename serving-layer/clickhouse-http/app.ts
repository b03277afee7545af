// The part of ClickHouse's HTTP interface BI tools use (Grafana's ClickHouse plugin, Metabase and
// DBeaver through the JDBC driver, Superset through clickhouse-connect, @clickhouse/client), on a
// port of its own: the same statements, checks and read-only sessions as POST /v1/sql, spoken the
// way a ClickHouse server speaks. The password of any ClickHouse user name is an API key.
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { installRateLimit, keyVerifier } from '../auth.ts';
import type { KeyStore, Role } from '../keys.ts';
import { availableSql, type SqlAvailability } from '../routes/sql.ts';
import { asClickHouseError, ClickHouseError, contentTypeOf, errorText, statusOf } from './protocol.ts';
import { answerStatement } from './statements.ts';

export interface ClickHouseInterfaceOptions {
  sql: SqlAvailability;
  /** The engine version clients are told (`SELECT version()` answers the engine's own). */
  version: string;
  /** API keys and the shared per-key rate limit; without them every request is a reader's. */
  auth?: { keys: KeyStore; redis: Redis; prefix: string; rateLimitPerMinute: number };
  logger?: boolean | { level: string };
}

/** URL parameters of the interface itself; every other one but `param_*` is a setting. */
const TRANSPORT = new Set([
  'query',
  'database',
  'default_format',
  'query_id',
  'session_id',
  'session_timeout',
  'session_check',
  'user',
  'password',
  'quota_key',
  'compress',
  'decompress',
  'buffer_size',
  'client_protocol_version',
]);

const READER_ROLES: readonly Role[] = ['reader', 'engineer', 'admin'];

interface Credentials {
  user: string;
  password: string | undefined;
}

function credentials(request: FastifyRequest): Credentials {
  const url = request.query as Record<string, string | undefined>;
  const basic = /^Basic\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  if (basic?.[1]) {
    const decoded = Buffer.from(basic[1], 'base64').toString();
    const colon = decoded.indexOf(':');
    return {
      user: decoded.slice(0, colon < 0 ? undefined : colon),
      password: colon < 0 ? '' : decoded.slice(colon + 1),
    };
  }
  const header = (name: string) => {
    const value = request.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  return {
    user: header('x-clickhouse-user') ?? url.user ?? 'default',
    password: header('x-clickhouse-key') ?? url.password,
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    clickhouseUser?: string;
  }
}

export async function buildClickHouseInterface(
  options: ClickHouseInterfaceOptions,
): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? { level: 'warn' },
    bodyLimit: 1 << 20,
    genReqId: () => randomUUID(),
  });
  // A statement is bytes whatever the client calls them (text/plain, application/x-www-form-...).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  const fail = (reply: FastifyReply, error: ClickHouseError) =>
    reply
      .code(statusOf(error))
      .header('X-ClickHouse-Exception-Code', String(error.code))
      .type('text/plain; charset=UTF-8')
      .send(errorText(error, options.version));

  app.setErrorHandler((error, request, reply) => {
    const known = asClickHouseError(error);
    if (known) return fail(reply, known);
    request.log.error({ err: error }, 'ClickHouse interface request failed');
    return fail(
      reply,
      new ClickHouseError(1002, 'UNKNOWN_EXCEPTION', `internal error (request ${request.id})`),
    );
  });

  const { auth } = options;
  if (auth) {
    const verify = keyVerifier(auth.keys);
    app.addHook('onRequest', async (request) => {
      // Liveness probes carry no credentials; a query (in the URL or a body) always does.
      if (request.method === 'GET' && ['/', '/ping', '/replicas_status'].includes(request.url)) return;
      const { user, password } = credentials(request);
      const key = password ? await verify(password) : undefined;
      if (!key || !READER_ROLES.includes(key.role))
        throw new ClickHouseError(
          516,
          'AUTHENTICATION_FAILED',
          `${user}: Authentication failed: the password must be an API key of the reader role or above (tidewater keys create --role reader)`,
        );
      request.apiKey = key;
      request.clickhouseUser = user;
    });
    await installRateLimit(
      app,
      auth,
      (max, after) =>
        new ClickHouseError(
          201,
          'QUOTA_EXCEEDED',
          `more than ${max} requests per minute with this key; retry in ${after}`,
        ),
    );
  }

  const ok = async (_request: FastifyRequest, reply: FastifyReply) =>
    reply.type('text/plain; charset=UTF-8').send('Ok.\n');
  app.get('/ping', ok);
  app.get('/replicas_status', ok);

  const query = async (request: FastifyRequest, reply: FastifyReply) => {
    const url = request.query as Record<string, string>;
    const body = Buffer.isBuffer(request.body) ? request.body : undefined;
    if (url.query === undefined && (body === undefined || body.length === 0)) return ok(request, reply);
    if (url.compress === '1' || url.decompress === '1')
      throw new ClickHouseError(
        48,
        'NOT_IMPLEMENTED',
        "ClickHouse's compressed block format is not implemented here: set compress=0 (JDBC: compress=false); gzip via enable_http_compression=1 is",
      );
    let text: string;
    try {
      text = [url.query, body && new TextDecoder('utf-8', { fatal: true }).decode(body)]
        .filter(Boolean)
        .join('\n');
    } catch {
      throw new ClickHouseError(27, 'CANNOT_PARSE_INPUT_ASSERTION_FAILED', 'the query is not valid UTF-8');
    }
    const header = (name: string) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const service = availableSql(options.sql);
    const database = header('x-clickhouse-database') ?? url.database;
    if (database !== undefined && database !== '' && database !== service.views.database)
      throw new ClickHouseError(
        81,
        'UNKNOWN_DATABASE',
        `Database ${database} does not exist: the metric tables are in ${service.views.database}`,
      );
    const params: Record<string, string> = {};
    const settings: [string, string][] = [];
    for (const [name, value] of Object.entries(url)) {
      if (name.startsWith('param_')) params[name.slice('param_'.length)] = value;
      else if (!TRANSPORT.has(name)) settings.push([name, value]);
    }
    const queryId = url.query_id ?? randomUUID();
    const started = process.hrtime.bigint();
    const answer = await answerStatement(service, {
      text,
      format: header('x-clickhouse-format') ?? url.default_format ?? 'TabSeparated',
      params,
      settings,
      // Without API keys every request is an admin's, as on the REST API.
      role: request.apiKey?.role ?? (auth ? undefined : 'admin'),
    });
    const gzip =
      url.enable_http_compression === '1' &&
      /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
    const payload = gzip ? gzipSync(answer.body) : answer.body;
    if (gzip) reply.header('Content-Encoding', 'gzip');
    const summary = {
      read_rows: '0',
      read_bytes: '0',
      written_rows: '0',
      written_bytes: '0',
      total_rows_to_read: '0',
      result_rows: String(answer.rows),
      result_bytes: String(answer.body.length),
      elapsed_ns: String(process.hrtime.bigint() - started),
    };
    return reply
      .header('X-ClickHouse-Query-Id', queryId)
      .header('X-ClickHouse-Format', answer.format)
      .header('X-ClickHouse-Timezone', 'UTC')
      .header('X-ClickHouse-Server-Display-Name', 'tidewater')
      .header('X-ClickHouse-Summary', JSON.stringify(summary))
      .type(contentTypeOf(answer.format))
      .send(payload);
  };
  app.get('/', query);
  app.post('/', query);
  return app;
}
