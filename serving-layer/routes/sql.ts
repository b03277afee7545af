// POST /v1/sql: one read-only SELECT over the merged metric views, as JSON, CSV or Arrow; and
// GET /v1/sql/tables, the views and their columns. How a statement is checked and run: sql/.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ServingContext } from '../context.ts';
import { ApiError, ErrorBody } from '../errors.ts';
import type { SqlService } from '../sql/index.ts';

const FORMATS = {
  json: { engine: 'JSON', contentType: 'application/json; charset=utf-8' },
  csv: { engine: 'CSVWithNames', contentType: 'text/csv; charset=utf-8' },
  arrow: { engine: 'Arrow', contentType: 'application/vnd.apache.arrow.file' },
} as const;

const SqlRequest = z.object({
  sql: z.string().min(1).max(100_000).describe('One SELECT over the metric tables (see GET /v1/sql/tables)'),
  format: z.enum(['json', 'csv', 'arrow']).default('json'),
  maxRows: z.coerce
    .number()
    .int()
    .positive()
    .optional()
    .describe('At most this many rows (capped by the server)'),
});

/**
 * The SQL service once it has opened; until then, why it has not (a server's reader user that is not
 * read-only, the speed view's tables not created yet), answered as 503 while it is tried again.
 */
export interface SqlAvailability {
  service?: SqlService;
  unavailable: string;
}

export function availableSql(sql: SqlAvailability): SqlService {
  if (!sql.service) throw new ApiError(503, 'sql_unavailable', sql.unavailable);
  return sql.service;
}

export const sqlRoutes: FastifyPluginAsyncZod<{ ctx: ServingContext; sql: SqlAvailability }> = async (
  app,
  { ctx, sql },
) => {
  app.get(
    '/v1/sql/tables',
    {
      schema: {
        summary: 'Tables the SQL endpoint exposes, with their columns',
        tags: ['sql'],
        response: {
          200: z.object({
            database: z.string(),
            tables: z.array(
              z.object({
                name: z.string(),
                description: z.string(),
                columns: z.array(z.object({ name: z.string(), type: z.string() })),
              }),
            ),
          }),
        },
      },
    },
    async () => {
      const service = availableSql(sql);
      await service.views.ensure();
      const result = await ctx.clickhouse.query({
        query:
          'SELECT table, name, type FROM system.columns WHERE database = {database:String} ORDER BY table, position',
        query_params: { database: service.views.database },
        format: 'JSONEachRow',
      });
      const columns = await result.json<{ table: string; name: string; type: string }>();
      return {
        database: service.views.database,
        tables: ctx.catalog.map((m) => ({
          name: m.name,
          description: m.description,
          columns: columns.filter((c) => c.table === m.name).map(({ name, type }) => ({ name, type })),
        })),
      };
    },
  );

  app.post(
    '/v1/sql',
    {
      schema: {
        summary: 'Run one read-only SELECT over the merged metric tables',
        description:
          'Tables are named after the metrics (GET /v1/sql/tables). Only a SELECT is accepted; table ' +
          'functions, other tables, SETTINGS, FORMAT and INTO OUTFILE are refused with `sql_refused`, ' +
          'and the statement runs in a read-only engine session with a time-out, a row, byte and ' +
          'memory limit. `X-Tidewater-Truncated: true` says a limit cut the answer.',
        tags: ['sql'],
        body: SqlRequest,
        response: { 400: ErrorBody, 503: ErrorBody, 504: ErrorBody },
      },
    },
    async (request, reply) => {
      const { format, maxRows } = request.body;
      const service = availableSql(sql);
      // Without API keys every route is open, as to an admin.
      const role = request.apiKey?.role ?? (ctx.options.auth ? undefined : 'admin');
      const answer = await service.run({
        sql: request.body.sql,
        format: FORMATS[format].engine,
        maxRows,
        rules: service.rules(role),
      });
      return reply
        .header('X-Tidewater-Truncated', String(answer.truncated))
        .header('X-Tidewater-Row-Limit', String(answer.limit))
        .type(FORMATS[format].contentType)
        .send(answer.body as never);
    },
  );
};
