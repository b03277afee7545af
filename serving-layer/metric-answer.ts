// One metric's answer over a range: merged from the batch and speed views at the boundary (late
// hours from speed), or read from the lake as of a version (asOf), with the meta that says where
// each part came from. GET /v1/metrics/:name and the live stream both answer through here.
import { querySnapshot } from '../batch-layer/index.ts';
import { type Metric, type QueryShape, resolveShape } from '../contracts/catalog.ts';
import { LakeCorruptionError } from '../lake/index.ts';
import type { ServingContext } from './context.ts';
import { pendingRanges } from './corrections.ts';
import { ApiError, badRequest } from './errors.ts';
import { planSegments, type Segment } from './merge-plan.ts';
import { mergedQuery } from './merged-query.ts';
import { type MetricQuery, rangeOf, shapeOf } from './metric-query.ts';

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
