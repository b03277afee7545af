// POST /v1/sql: read-only SQL for BI tools over the merged views, one table per metric named after
// it (per minute and every dimension, finished values, batch below the boundary and speed above).
// The views are re-created whenever the boundary moved, so a query always sees the current split.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Catalog } from '../../contracts/catalog.ts';
import { clickhouseDialect as ch } from '../../speed-layer/index.ts';
import type { BoundaryState, ServingContext } from '../context.ts';
import { ApiError, ErrorBody } from '../errors.ts';
import { planSegments } from '../merge-plan.ts';
import { mergedViewSelect } from '../merged-query.ts';
import { checkStatement, refuse } from '../sql-guard.ts';

const ALL_TIME = { from: 0, to: Date.UTC(2100, 0, 1) };

const CONTENT_TYPES = {
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  arrow: 'application/vnd.apache.arrow.file',
} as const;

/**
 * The first `records` records of ClickHouse's CSV text (a header line counts as one), and whether
 * more followed. Newlines inside quoted fields are data, not record ends.
 */
export function cutCsv(text: string, records: number): { text: string; truncated: boolean } {
  let quoted = false;
  let seen = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) quoted = !quoted;
    else if (c === 10 && !quoted && ++seen === records)
      return { text: text.slice(0, i + 1), truncated: i + 1 < text.length };
  }
  return { text, truncated: false };
}

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

/** ClickHouse error codes a statement can earn, and what the client is told. */
const CLIENT_ERRORS: Record<number, { status: number; code: string }> = {
  62: { status: 400, code: 'sql_syntax' },
  159: { status: 504, code: 'sql_timeout' },
  164: { status: 400, code: 'sql_refused' },
  241: { status: 400, code: 'sql_too_expensive' },
  396: { status: 400, code: 'sql_too_expensive' },
};

function clickhouseCode(error: unknown): number | undefined {
  const e = error as { clickhouseCode?: number; code?: string | number; message?: string };
  if (typeof e.clickhouseCode === 'number') return e.clickhouseCode;
  if (typeof e.code === 'string' && /^\d+$/.test(e.code)) return Number(e.code);
  const m = /Code: (\d+)\./.exec(e.message ?? '');
  return m ? Number(m[1]) : undefined;
}

/** The engine's message without its code prefix, exception class or trace. */
function engineMessage(error: unknown): string {
  return String((error as Error).message ?? error)
    .replace(/^.*?DB::Exception: /s, '')
    .replace(/\s*\(version [^)]*\)\s*$/, '')
    .replace(/\s*Stack trace:[\s\S]*$/, '')
    .replace(/\. \([A-Z_]+\)\s*$/, '')
    .trim();
}

function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const code = clickhouseCode(error);
  const known = code === undefined ? undefined : CLIENT_ERRORS[code];
  if (known) return new ApiError(known.status, known.code, engineMessage(error));
  // Anything else the engine refused about the statement (unknown column, type mismatch, ...).
  if (code !== undefined) return new ApiError(400, 'sql_invalid', engineMessage(error));
  throw error;
}

class SqlViews {
  private applied: string | undefined;
  private applying: Promise<void> | undefined;

  constructor(private readonly ctx: ServingContext) {}

  get tables(): ReadonlySet<string> {
    return new Set(this.ctx.catalog.map((m) => m.name));
  }

  /** Creates or replaces the views when the boundary differs from the one they were made for. */
  async ensure(): Promise<void> {
    const boundary = this.ctx.boundary();
    const key = boundary ? `${boundary.since}/${boundary.watermark}` : 'none';
    if (this.applied === key) return;
    this.applying ??= this.apply(this.ctx.catalog, boundary, key).finally(() => {
      this.applying = undefined;
    });
    await this.applying;
    if (this.applied !== key) await this.ensure();
  }

  private async apply(catalog: Catalog, boundary: BoundaryState | undefined, key: string): Promise<void> {
    const segments = planSegments(ALL_TIME, boundary);
    for (const metric of catalog) {
      await this.ctx.clickhouse.command({
        query: `CREATE OR REPLACE VIEW ${ch.quote(metric.name)} AS\n${mergedViewSelect(metric, segments)}`,
      });
    }
    this.applied = key;
  }
}

async function explain(ctx: ServingContext, kind: 'AST' | 'SYNTAX', sql: string): Promise<string> {
  try {
    const result = await ctx.clickhouse.query({
      query: `SELECT explain FROM (EXPLAIN ${kind} ${sql})`,
      format: 'JSONEachRow',
    });
    return (await result.json<{ explain: string }>()).map((r) => r.explain).join('\n');
  } catch (error) {
    const message = String((error as Error).message);
    if (/EXPLAIN inside subquery supports only SELECT/i.test(message))
      throw refuse('only SELECT queries are allowed (the SQL endpoint is read-only)');
    if (/cannot have output options/i.test(message))
      throw refuse('FORMAT and INTO OUTFILE clauses are not accepted: choose the output with "format"');
    throw toApiError(error);
  }
}

export const sqlRoutes: FastifyPluginAsyncZod<{ ctx: ServingContext }> = async (app, { ctx }) => {
  const views = new SqlViews(ctx);

  app.get(
    '/v1/sql/tables',
    {
      schema: {
        summary: 'Tables the SQL endpoint exposes, with their columns',
        tags: ['sql'],
        response: {
          200: z.object({
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
      await views.ensure();
      const result = await ctx.clickhouse.query({
        query: `SELECT table, name, type FROM system.columns WHERE database = currentDatabase() AND table IN {tables:Array(String)} ORDER BY table, position`,
        query_params: { tables: [...views.tables] },
        format: 'JSONEachRow',
      });
      const columns = await result.json<{ table: string; name: string; type: string }>();
      return {
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
          'Tables are named after the metrics (GET /v1/sql/tables). Writes, DDL, settings, table ' +
          'functions and file or URL access are refused with `sql_refused`. The statement runs with a ' +
          'time-out and a row limit; `X-Tidewater-Truncated: true` says the limit cut the answer.',
        tags: ['sql'],
        body: SqlRequest,
        response: { 400: ErrorBody, 504: ErrorBody },
      },
    },
    async (request, reply) => {
      const { format, maxRows } = request.body;
      const sql = request.body.sql.trim().replace(/;\s*$/, '');
      if (sql === '') throw refuse('empty statement');
      await views.ensure();
      // AST first: its refusal names what the statement is; SYNTAX is only for WITH names.
      const ast = await explain(ctx, 'AST', sql);
      const syntax = await explain(ctx, 'SYNTAX', sql);
      checkStatement(ast, syntax, views.tables);

      const limit = Math.min(maxRows ?? ctx.sql.maxRows, ctx.sql.maxRows);
      // readonly last: once it applies, no later setting could be changed.
      const settings = `max_execution_time = ${ctx.sql.timeoutSeconds}, timeout_overflow_mode = 'throw', readonly = 1`;
      // One row past the limit tells truncation apart from an answer of exactly `limit` rows, so
      // the statement runs once; the extra row is cut from the text ClickHouse wrote.
      const wrap = (n: number) => `SELECT * FROM (\n${sql}\n) LIMIT ${n} SETTINGS ${settings}`;
      const send = (body: unknown, truncated: boolean) =>
        reply
          .header('X-Tidewater-Truncated', String(truncated))
          .header('X-Tidewater-Row-Limit', String(limit))
          .type(CONTENT_TYPES[format])
          .send(body as never);
      try {
        if (format === 'json') {
          // Rows as ClickHouse wrote them (one JSON object per line, 64-bit integers exact), never
          // parsed; the columns from DESCRIBE, which analyses the statement without running it.
          const [rows, columns] = await Promise.all([
            ctx.clickhouse.query({ query: wrap(limit + 1), format: 'JSONEachRow' }).then((r) => r.text()),
            ctx.clickhouse
              .query({ query: `DESCRIBE (${sql})`, format: 'JSONEachRow' })
              .then((r) => r.json<{ name: string; type: string }>()),
          ]);
          const lines = rows.split('\n').filter((line) => line !== '');
          const data = lines.slice(0, limit);
          const meta = JSON.stringify(columns.map(({ name, type }) => ({ name, type })));
          return send(
            `{"meta":${meta},"data":[${data.join(',')}],"rows":${data.length}}`,
            lines.length > limit,
          );
        }
        if (format === 'csv') {
          const text = await (
            await ctx.clickhouse.query({ query: wrap(limit + 1), format: 'CSVWithNames' })
          ).text();
          const cut = cutCsv(text, limit + 1);
          return send(cut.text, cut.truncated);
        }
        // Arrow is binary and cannot be cut as text: a count of one row past the limit says
        // whether it was. The client's types list Arrow nowhere though both transports return it;
        // its bytes are passed on as they came (consume() is the raw stream).
        const probe = await ctx.clickhouse.query({
          query: `SELECT count() AS n FROM (SELECT 1 FROM (\n${sql}\n) LIMIT ${limit + 1}) SETTINGS ${settings}`,
          format: 'JSONEachRow',
        });
        const [{ n } = { n: 0 }] = await probe.json<{ n: number | string }>();
        const result = await ctx.clickhouse.query({ query: wrap(limit), format: 'Arrow' as 'JSON' });
        return send((result as unknown as { consume(): NodeJS.ReadableStream }).consume(), Number(n) > limit);
      } catch (error) {
        throw toApiError(error);
      }
    },
  );
};
