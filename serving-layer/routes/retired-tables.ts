// Tables of earlier metric versions (retired-tables.ts), for an administrator to see and drop: the
// speed layer stops feeding them at start and keeps their rows until someone decides.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ServingContext } from '../context.ts';
import { ErrorBody, notFound } from '../errors.ts';
import { dropRetiredTable, listRetiredTables } from '../retired-tables.ts';

const RetiredTable = z
  .object({
    table: z.string(),
    metric: z.string(),
    version: z.number().int(),
    layer: z
      .enum(['speed', 'batch'])
      .describe("Which view it held: the speed layer's or a loaded batch view"),
    rows: z.number(),
    bytes: z.number(),
  })
  .describe('A ClickHouse table of an earlier version of a catalog metric');

export const retiredTablesRoutes: FastifyPluginAsyncZod<{ ctx: ServingContext }> = async (app, { ctx }) => {
  app.get(
    '/v1/retired-tables',
    {
      schema: {
        summary: 'Tables of earlier metric versions, no longer fed or served',
        description:
          'A metric whose definition changed got a new version and new tables; the old ones keep their ' +
          'rows until dropped. Only tables the catalog names as earlier versions are listed.',
        tags: ['admin'],
        response: { 200: z.object({ tables: z.array(RetiredTable) }) },
      },
    },
    async () => ({ tables: await listRetiredTables(ctx.clickhouse, ctx.catalog) }),
  );

  app.delete(
    '/v1/retired-tables/:table',
    {
      schema: {
        summary: 'Drop one table of an earlier metric version',
        description:
          'Drops the table (and, for a speed table, the view that fed it) and answers what it held. ' +
          'Any other name, a current table included, is 404 and nothing is dropped.',
        tags: ['admin'],
        params: z.object({ table: z.string().min(1) }),
        response: { 200: z.object({ dropped: RetiredTable }), 404: ErrorBody },
      },
    },
    async (request) => {
      const { table } = request.params;
      const dropped = await dropRetiredTable(ctx.clickhouse, ctx.catalog, table);
      if (!dropped) throw notFound(`"${table}" is not a table of an earlier metric version`);
      return { dropped };
    },
  );
};
