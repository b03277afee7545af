// GET /v1/metrics and GET /v1/metrics/:name: the catalog, and one metric merged across the batch and
// speed views at a time boundary, with where each range came from.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { GRAINS } from '../../contracts/catalog.ts';
import type { ServingContext } from '../context.ts';
import { ErrorBody } from '../errors.ts';
import { answerMetric, renderAnswer } from '../metric-answer.ts';
import { MetricQuery } from '../metric-query.ts';

const Row = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]));
const ServedRange = z.object({ layer: z.enum(['batch', 'speed', 'lake']), from: z.string(), to: z.string() });
const PendingRange = z.union([
  z.object({ from: z.string(), to: z.string(), layer: z.literal('speed'), events: z.number() }),
  z.object({ from: z.string(), to: z.string(), layer: z.literal('batch'), lakeRows: z.number() }),
]);
export const MetricAnswer = z.object({
  metric: z.string(),
  version: z.number(),
  grain: z.enum(GRAINS),
  from: z.string(),
  to: z.string(),
  dimensions: z.array(z.string()),
  measures: z.array(z.string()),
  rows: z.array(Row).describe('Buckets as ISO-8601 in `time`; integers as JSON numbers'),
  meta: z.object({
    boundary: z
      .object({
        watermark: z.string(),
        since: z.string(),
        batchVersion: z.number().nullable(),
        lakeVersion: z.number().nullable().describe('The lake version the batch view was recomputed from'),
      })
      .nullable()
      .describe(
        'Batch view below the watermark (from `since`), speed view elsewhere; null before any batch run',
      ),
    served: z.array(ServedRange).describe('Which layer answered which part of the range'),
    corrections: z
      .object({ pending: z.array(PendingRange) })
      .nullable()
      .describe(
        'Hours below the watermark holding late events no batch view read yet: `speed` ones are answered ' +
          "from the speed view and include their `events`; `batch` ones (beyond the speed view's retention) " +
          'lack `lakeRows` lake rows until their correction job commits. Null with `asOf`',
      ),
    lakeVersion: z
      .number()
      .nullable()
      .describe(
        "The lake's newest version (with `asOf`: the version read); null before the lake's first commit",
      ),
    speed: z.object({ newestEventTime: z.string().nullable(), ageSeconds: z.number().nullable() }),
    quarantined: z
      .object({
        total: z.number(),
        byRule: z.record(z.string(), z.number()),
        basis: z.literal('rejected_at'),
      })
      .nullable()
      .describe('Records rejected by the quality gate while this range was live'),
    rowCount: z.number(),
    truncated: z.boolean().describe('More rows matched than `limit` (or the server maximum) allowed'),
    cache: z
      .object({ hit: z.boolean(), basis: z.enum(['batch', 'settled', 'recent', 'none']) })
      .describe(
        'Whether the rows came from the shared query cache, and what the entry was keyed on: `batch` (the ' +
          'boundary alone), `settled` (speed data older than the allowed lateness), `recent` (every speed ' +
          'commit), `none` (not cached: no explicit `to`, asOf, or no cache configured)',
      ),
    tookMs: z.number(),
  }),
});

const MetricSummary = z.object({
  name: z.string(),
  version: z.number(),
  description: z.string(),
  eventTypes: z.array(z.string()),
  grain: z.string(),
  dimensions: z.array(z.string()),
  measures: z.array(z.object({ name: z.string(), kind: z.string(), relativeError: z.number().optional() })),
});

export const metricsRoutes: FastifyPluginAsyncZod<{ ctx: ServingContext }> = async (app, { ctx }) => {
  app.get(
    '/v1/metrics',
    {
      schema: {
        summary: 'List the metric catalog',
        tags: ['metrics'],
        response: { 200: z.object({ metrics: z.array(MetricSummary) }) },
      },
    },
    async () => ({
      metrics: ctx.catalog.map((m) => ({
        name: m.name,
        version: m.version,
        description: m.description,
        eventTypes: [...m.eventTypes],
        grain: m.grain,
        dimensions: m.dimensions.map((d) => d.name),
        measures: m.measures.map((x) => ({
          name: x.name,
          kind: x.kind,
          ...(x.kind === 'distinct_approx' ? { relativeError: x.relativeError } : {}),
        })),
      })),
    }),
  );

  app.get(
    '/v1/metrics/:name',
    {
      schema: {
        summary: 'One metric over a time range, merged from the batch and speed views',
        description:
          'The batch view answers below the batch watermark, the speed view above it, never both for ' +
          'the same minute. `meta` says which layer served which range, the boundary, the lake version, ' +
          'how fresh the speed data is and how many records the quality gate quarantined.',
        tags: ['metrics'],
        params: z.object({ name: z.string() }),
        querystring: MetricQuery,
        response: { 200: MetricAnswer, 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (request, reply) => {
      const answer = await answerMetric(ctx, request.params.name, request.query);
      // A string body skips the schema serializer; the schema still documents it.
      return reply
        .type('application/json; charset=utf-8')
        .send(renderAnswer(answer) as unknown as z.infer<typeof MetricAnswer>);
    },
  );
};
