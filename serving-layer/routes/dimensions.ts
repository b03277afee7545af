// GET /v1/dimensions/:table: the platform's dimension tables (products, stores, fulfilment centres),
// so that clients show names and categories next to the codes the metrics are grouped by.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Dimensions } from '../../contracts/index.ts';
import type { ServingContext } from '../context.ts';
import { ErrorBody } from '../errors.ts';

/** URL name of each table, its field in Dimensions and its key column. */
const TABLES = {
  products: { field: 'products', key: 'productId' },
  stores: { field: 'stores', key: 'storeId' },
  fulfilment_centres: { field: 'fulfilmentCentres', key: 'fulfilmentCentreId' },
} as const satisfies Record<string, { field: keyof Dimensions; key: string }>;

const MAX_IDS = 1_000;

const DimensionQuery = z.object({
  id: z
    .string()
    .transform((s) => s.split(',').map((v) => v.trim()))
    .refine((ids) => ids.length <= MAX_IDS, `at most ${MAX_IDS} ids`)
    .optional()
    .describe('Comma-separated keys (e.g. P000001,P000002); default every row'),
});

export const dimensionsRoutes: FastifyPluginAsyncZod<{ ctx: ServingContext }> = async (app, { ctx }) => {
  app.get(
    '/v1/dimensions/:table',
    {
      schema: {
        summary: 'Rows of a dimension table: products, stores or fulfilment_centres',
        description:
          'The same tables the quality gate checks references against and both layers enrich events with. ' +
          'Unknown ids are left out of `rows`.',
        tags: ['metrics'],
        params: z.object({ table: z.enum(Object.keys(TABLES) as [keyof typeof TABLES]) }),
        querystring: DimensionQuery,
        response: {
          200: z.object({
            table: z.string(),
            key: z.string().describe('The column that holds the code metrics are grouped by'),
            rows: z.array(z.record(z.string(), z.union([z.string(), z.number()]))),
          }),
          400: ErrorBody,
        },
      },
    },
    async (request) => {
      const { field, key } = TABLES[request.params.table];
      const rows: Record<string, string | number>[] = (await ctx.dimensions())[field];
      const ids = request.query.id && new Set(request.query.id);
      return {
        table: request.params.table,
        key,
        rows: ids ? rows.filter((r) => ids.has(String(r[key]))) : rows,
      };
    },
  );
};
