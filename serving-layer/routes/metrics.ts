// GET /v1/metrics and GET /v1/metrics/:name: the catalog, and one metric merged across the batch and
// speed views at a time boundary, with where each range came from.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { querySnapshot } from '../../batch-layer/index.ts';
import {
  type DimensionFilter,
  GRAINS,
  type Metric,
  type OrderTerm,
  type QueryShape,
  resolveShape,
} from '../../contracts/catalog.ts';
import { LakeCorruptionError } from '../../lake/index.ts';
import type { ServingContext } from '../context.ts';
import { pendingRanges } from '../corrections.ts';
import { ApiError, badRequest, ErrorBody } from '../errors.ts';
import { planSegments, type Segment } from '../merge-plan.ts';
import { mergedQuery } from '../merged-query.ts';

const HOUR_MS = 3_600_000;
const BUCKET = 'time';

const csv = z.string().transform((s) =>
  s
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean),
);
const repeated = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : [v]));
const instant = z.iso
  .datetime({ offset: true })
  .transform((s) => Date.parse(s))
  .describe('ISO-8601 instant, e.g. 2025-01-01T10:00:00Z');

export const MetricQuery = z.object({
  from: instant.optional().describe('Start, inclusive (default: an hour before `to`)'),
  to: instant.optional().describe('End, exclusive (default: now)'),
  grain: z.enum(GRAINS).default('minute').describe('Time bucket; `all` is one bucket for the range (top-N)'),
  groupBy: csv.optional().describe('Comma-separated dimensions to keep (default: none)'),
  filter: repeated
    .optional()
    .describe('`dim:value`, `dim:v1,v2` (any of) or `dim!:value` (not); repeat for several'),
  measures: csv.optional().describe('Comma-separated measures (default: all)'),
  orderBy: csv
    .optional()
    .describe(
      'Comma-separated columns, `-` for descending, e.g. `-revenue_minor` (default: time, dimensions)',
    ),
  limit: z.coerce.number().int().positive().optional().describe('At most this many rows'),
  asOf: z
    .string()
    .regex(/^\d+$|^\d{4}-\d{2}-\d{2}T/, 'a lake version (integer) or an ISO-8601 instant')
    .optional()
    .describe('Answer from the lake as of this version or instant (time travel), not the live views'),
});
export type MetricQuery = z.infer<typeof MetricQuery>;

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

function parseFilter(text: string): DimensionFilter {
  const match = /^([a-z][a-z0-9_]*)(!?):(.+)$/.exec(text);
  if (!match)
    throw badRequest(`filter "${text}": expected dimension:value, dimension:v1,v2 or dimension!:value`);
  const [, dimension = '', not, list = ''] = match;
  const values = list.split(',').map((v) => v.trim());
  if (not) {
    if (values.length !== 1) throw badRequest(`filter "${text}": "!:" takes one value`);
    return { dimension, op: 'ne', values };
  }
  return { dimension, op: values.length > 1 ? 'in' : 'eq', values };
}

function parseOrder(terms: readonly string[]): OrderTerm[] {
  return terms.map((t) =>
    t.startsWith('-') ? { column: t.slice(1), direction: 'desc' } : { column: t, direction: 'asc' },
  );
}

interface Answer {
  rowsJson: string;
  rowCount: number;
  truncated: boolean;
  served: { layer: Segment['layer'] | 'lake'; from: number; to: number }[];
  /** The lake version an `asOf` answer read. */
  lakeVersion?: number;
}

/** Cuts the rows to `limit`; the query asked for one more, so an extra row means truncation. */
function cut(lines: string[], limit: number): Pick<Answer, 'rowsJson' | 'rowCount' | 'truncated'> {
  const rows = lines.length > limit ? lines.slice(0, limit) : lines;
  return { rowsJson: `[${rows.join(',')}]`, rowCount: rows.length, truncated: lines.length > limit };
}

async function answerLive(
  ctx: ServingContext,
  metric: Metric,
  range: { from: number; to: number },
  shape: QueryShape,
  limit: number,
  segments: Segment[],
): Promise<Answer> {
  const { query, query_params } = mergedQuery(metric, range, segments, { ...shape, limit: limit + 1 });
  const result = await ctx.clickhouse.query({ query, query_params, format: 'JSONEachRow' });
  const text = await result.text();
  const lines = text.split('\n').filter((line) => line !== '');
  return { ...cut(lines, limit), served: segments };
}

async function answerAsOf(
  ctx: ServingContext,
  metric: Metric,
  range: { from: number; to: number },
  shape: QueryShape,
  limit: number,
  asOf: string,
): Promise<Answer> {
  const at = /^\d+$/.test(asOf) ? { version: Number(asOf) } : { timestamp: Date.parse(asOf) };
  if (at.timestamp !== undefined && Number.isNaN(at.timestamp))
    throw badRequest(`asOf: not an instant: ${asOf}`);
  try {
    const answer = await querySnapshot({
      lakeDir: ctx.lakeDir,
      metric,
      from: range.from,
      to: range.to,
      at,
      shape: { ...shape, limit: limit + 1 },
    });
    return {
      ...cut(
        answer.rows.map((r) => JSON.stringify(r)),
        limit,
      ),
      served: [{ layer: 'lake', from: range.from, to: range.to }],
      lakeVersion: answer.lakeVersion,
    };
  } catch (error) {
    if (error instanceof LakeCorruptionError) throw new ApiError(500, 'lake_corrupt', error.message);
    const message = (error as Error).message;
    if (/no version|not found|ENOENT|before the first|does not exist|no commit/i.test(message))
      throw new ApiError(404, 'lake_version_not_found', `asOf ${asOf}: ${message}`);
    throw error;
  }
}

export function rangeOf(query: Pick<MetricQuery, 'from' | 'to'>): { from: number; to: number } {
  const to = query.to ?? Date.now();
  const from = query.from ?? to - HOUR_MS;
  if (from >= to)
    throw badRequest(
      `from must be before to (${new Date(from).toISOString()} >= ${new Date(to).toISOString()})`,
    );
  return { from, to };
}

export function shapeOf(metric: Metric, query: MetricQuery): QueryShape {
  const shape: QueryShape = {
    grain: query.grain,
    bucketAlias: BUCKET,
    dimensions: query.groupBy ?? [],
    filters: (query.filter ?? []).map(parseFilter),
    measures: query.measures,
    orderBy: query.orderBy ? parseOrder(query.orderBy) : undefined,
  };
  try {
    resolveShape(metric, shape);
  } catch (error) {
    throw badRequest((error as Error).message);
  }
  return shape;
}

export interface MetricAnswerParts {
  head: Record<string, unknown>;
  /** ClickHouse's own JSON text of the rows. */
  rowsJson: string;
  meta: Record<string, unknown>;
}

/** The rows are spliced in as ClickHouse wrote them, never parsed and re-serialised. */
export const renderAnswer = ({ head, rowsJson, meta }: MetricAnswerParts) =>
  `${JSON.stringify(head).slice(0, -1)},"rows":${rowsJson},"meta":${JSON.stringify(meta)}}`;

/** GET /v1/metrics/:name's answer, also the live stream's snapshot and deltas. */
export async function answerMetric(
  ctx: ServingContext,
  name: string,
  query: MetricQuery,
): Promise<MetricAnswerParts> {
  const started = performance.now();
  const metric = ctx.metric(name);
  const range = rangeOf(query);
  const shape = shapeOf(metric, query);
  const limit = Math.min(query.limit ?? ctx.maxRows, ctx.maxRows);
  const boundary = ctx.boundary();
  const [late, scanned] =
    query.asOf === undefined
      ? await Promise.all([ctx.lateHours(range, boundary), ctx.corrections()])
      : [[], []];
  const segments = planSegments(range, boundary, late);
  const live = () => answerLive(ctx, metric, range, shape, limit, segments);
  const identity = { metric: metric.name, range, shape, limit };
  const [{ value: answer, hit, basis }, provenance] = await Promise.all([
    query.asOf !== undefined
      ? answerAsOf(ctx, metric, range, shape, limit, query.asOf).then((value) => ({
          value,
          hit: false,
          basis: 'none' as const,
        }))
      : ctx.queryCache
        ? ctx.queryCache.through(
            { identity, range, explicitTo: query.to !== undefined },
            boundary,
            segments,
            live,
          )
        : live().then((value) => ({ value, hit: false, basis: 'none' as const })),
    ctx.provenance(range),
  ]);
  const resolved = resolveShape(metric, shape);
  const iso = (ms: number) => new Date(ms).toISOString();
  const meta = {
    boundary: boundary
      ? {
          watermark: iso(boundary.watermark),
          since: iso(boundary.since),
          batchVersion: boundary.batchVersion,
          lakeVersion: boundary.lakeVersion,
        }
      : null,
    served: answer.served.map((s) => ({ layer: s.layer, from: iso(s.from), to: iso(s.to) })),
    corrections: query.asOf === undefined ? { pending: pendingRanges(range, late, scanned) } : null,
    ...provenance,
    lakeVersion: query.asOf === undefined ? provenance.lakeVersion : (answer.lakeVersion ?? null),
    rowCount: answer.rowCount,
    truncated: answer.truncated,
    cache: { hit, basis },
    tookMs: Math.round((performance.now() - started) * 10) / 10,
  };
  const head = {
    metric: metric.name,
    version: metric.version,
    grain: resolved.grain,
    from: iso(range.from),
    to: iso(range.to),
    dimensions: resolved.dimensions,
    measures: resolved.measures.map((m) => m.name),
  };
  return { head, rowsJson: answer.rowsJson, meta };
}

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
