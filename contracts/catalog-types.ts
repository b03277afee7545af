// The shape of a metric definition and the checks a catalog passes at load, so that a typo in a
// column name fails when the catalog is defined, naming the metric, not when SQL runs.
import { z } from 'zod';
import { EVENT_TYPES, type EventType } from './events.ts';
import { describeIssues } from './issues.ts';
import { RAW_COLUMN_NAMES, RAW_COLUMNS, type RawColumnName } from './raw-rows.ts';

export const MEASURE_KINDS = [
  'count',
  'sum',
  'min',
  'max',
  'distinct_exact',
  'distinct_approx',
  'latest',
] as const;
export type MeasureKind = (typeof MEASURE_KINDS)[number];
export const FILTER_OPS = ['eq', 'ne', 'in', 'gt', 'gte', 'lt', 'lte'] as const;
export type FilterOp = (typeof FILTER_OPS)[number];
/** The name of the time bucket column every rollup starts with. */
export const MINUTE = 'minute';

// Names become SQL identifiers in both engines: keep them to one portable, unquoted-safe shape.
const Identifier = z.string().regex(/^[a-z][a-z0-9_]*$/, 'expected snake_case: [a-z][a-z0-9_]*');
const Column = z.enum(RAW_COLUMN_NAMES as [RawColumnName, ...RawColumnName[]], {
  error: (issue) => `unknown raw column ${JSON.stringify(issue.input)}`,
});
const Scalar = z.union([z.string(), z.number(), z.boolean()]);

export const FilterSchema = z.object({
  field: Column,
  op: z.enum(FILTER_OPS),
  value: z.union([Scalar, z.array(z.union([z.string(), z.number()])).min(1)]),
});

const MeasureBase = {
  name: Identifier,
  description: z.string().optional(),
  /** Counts or aggregates only the metric's rows that also pass this (e.g. adds vs removes). */
  filter: z.array(FilterSchema).optional(),
};
export const MeasureSchema = z.discriminatedUnion('kind', [
  z.object({ ...MeasureBase, kind: z.literal('count') }),
  z.object({
    ...MeasureBase,
    kind: z.enum(['sum', 'min', 'max', 'distinct_exact', 'latest']),
    column: Column,
  }),
  z.object({
    ...MeasureBase,
    kind: z.literal('distinct_approx'),
    column: Column,
    /** Bound on |estimate − exact| / exact that each engine's estimator must honour. */
    relativeError: z.number().gt(0).lt(1),
  }),
]);

export const MetricSchema = z.object({
  name: Identifier,
  /** Bump on any change that alters results: a new version gets new tables, old ones stay. */
  version: z.int().positive(),
  description: z.string().min(1),
  eventTypes: z
    .array(
      z.enum(EVENT_TYPES as [EventType, ...EventType[]], {
        error: (i) => `unknown event type ${JSON.stringify(i.input)}`,
      }),
    )
    .min(1),
  filter: z.array(FilterSchema).optional(),
  grain: z.literal(MINUTE),
  dimensions: z.array(z.object({ name: Identifier, column: Column })),
  measures: z.array(MeasureSchema).min(1),
  /**
   * true: every order line is a row (line-level metrics such as revenue by category);
   * false: one row per event (order-level metrics: line 0 stands for the whole order).
   */
  explodesLines: z.boolean(),
});

export type Filter = z.infer<typeof FilterSchema>;
export type Measure = z.infer<typeof MeasureSchema>;
export type Metric = z.infer<typeof MetricSchema>;
export type MetricDimension = Metric['dimensions'][number];
export type Catalog = readonly Metric[];

const ORDER_EVENTS: ReadonlySet<EventType> = new Set(['order.created', 'order.completed', 'order.cancelled']);

function measureColumn(measure: Measure): RawColumnName | undefined {
  return measure.kind === 'count' ? undefined : measure.column;
}

function filterProblems(filters: readonly Filter[] | undefined, where: string): string[] {
  return (filters ?? []).flatMap((filter) => {
    const type = RAW_COLUMNS[filter.field].type;
    const expected = type === 'bool' ? 'boolean' : type === 'int64' ? 'number' : 'string';
    const values = Array.isArray(filter.value) ? filter.value : [filter.value];
    const problems = values.some((v) => typeof v !== expected)
      ? [`${where}: ${filter.field} is ${type}, compared with ${JSON.stringify(filter.value)}`]
      : [];
    if ((filter.op === 'in') !== Array.isArray(filter.value)) {
      problems.push(`${where}: op "${filter.op}" ${filter.op === 'in' ? 'needs' : 'takes no'} list value`);
    }
    return problems;
  });
}

/** Rules a well-shaped metric can still break; each message says where. */
function semanticProblems(metric: Metric): string[] {
  const problems: string[] = [];
  const outputs = [...metric.dimensions.map((d) => d.name), ...metric.measures.map((m) => m.name)];
  for (const name of new Set(outputs)) {
    if (outputs.indexOf(name) !== outputs.lastIndexOf(name))
      problems.push(`output name "${name}" is used twice`);
  }
  if (outputs.includes(MINUTE))
    problems.push(`"${MINUTE}" is the time bucket and cannot be a dimension or measure`);
  // A dimension alias equal to a different raw column would shadow that column in WHERE clauses
  // (ClickHouse resolves aliases first); a measure named like a column would nest aggregates.
  for (const d of metric.dimensions) {
    if (d.name in RAW_COLUMNS && d.name !== d.column)
      problems.push(`dimension "${d.name}" must read column ${d.name}`);
  }
  for (const m of metric.measures) {
    if (m.name in RAW_COLUMNS) problems.push(`measure "${m.name}" is named like a raw column; rename it`);
  }
  problems.push(...filterProblems(metric.filter, 'filter'));
  for (const m of metric.measures) problems.push(...filterProblems(m.filter, `measure "${m.name}" filter`));

  const readsOrders = metric.eventTypes.some((type) => ORDER_EVENTS.has(type));
  const used = [
    ...metric.dimensions.map((d) => d.column),
    ...(metric.filter ?? []).map((f) => f.field),
    ...metric.measures.flatMap((m) => [measureColumn(m), ...(m.filter ?? []).map((f) => f.field)]),
  ].filter((c): c is RawColumnName => c !== undefined);
  if (readsOrders && !metric.explodesLines) {
    for (const c of new Set(used)) {
      if (RAW_COLUMNS[c].grain === 'line') problems.push(`reads line column ${c} without explodesLines`);
    }
  }
  if (metric.explodesLines) {
    for (const m of metric.measures) {
      const c = measureColumn(m);
      if (m.kind === 'sum' && c && RAW_COLUMNS[c].grain === 'order') {
        problems.push(`measure "${m.name}" sums order-level ${c} once per line; use a non-exploding metric`);
      }
    }
  }
  return problems;
}

/** Validates a catalog (e.g. parsed JSON) and returns it typed; throws naming each bad metric. */
export function defineCatalog(input: readonly unknown[]): Catalog {
  const errors: string[] = [];
  const metrics: Metric[] = [];
  input.forEach((raw, index) => {
    const label = `metric ${JSON.stringify((raw as { name?: unknown } | null)?.name ?? `#${index}`)}`;
    const parsed = MetricSchema.safeParse(raw);
    const problems = parsed.success ? semanticProblems(parsed.data) : describeIssues(parsed.error);
    if (problems.length > 0) errors.push(...problems.map((problem) => `${label}: ${problem}`));
    else if (parsed.success) metrics.push(parsed.data);
  });
  const names = metrics.map((m) => m.name);
  for (const name of new Set(names)) {
    if (names.indexOf(name) !== names.lastIndexOf(name)) errors.push(`metric "${name}" is defined twice`);
  }
  if (errors.length > 0) throw new Error(`Invalid metric catalog:\n  ${errors.join('\n  ')}`);
  return Object.freeze(metrics);
}

/** Table name of a metric's rollup in either layer; the version keeps changed metrics apart. */
export function metricTable(metric: Pick<Metric, 'name' | 'version'>): string {
  return `${metric.name}_v${metric.version}`;
}
