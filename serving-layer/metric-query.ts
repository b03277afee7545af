// A metric request as analysts and dashboards send it (GET /v1/metrics/:name, the live stream):
// its query-string schema, and the range and shape it asks for, checked against the metric.
import { z } from 'zod';
import {
  type DimensionFilter,
  GRAINS,
  type Metric,
  type OrderTerm,
  type QueryShape,
  resolveShape,
} from '../contracts/catalog.ts';
import { badRequest } from './errors.ts';

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
