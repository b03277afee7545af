// The generic metric compiler: catalog entry + dialect -> SQL. Engine differences live only in the
// dialect, so the speed layer's views and the batch layer's recompute share these semantics.
import { type Filter, type Measure, type Metric, MINUTE } from './catalog-types.ts';
import { type LogicalType, RAW_COLUMNS } from './raw-rows.ts';
import type { AggregateCall, AggregateStage, SqlDialect } from './sql-dialect.ts';

const OPERATORS = { eq: '=', ne: '!=', gt: '>', gte: '>=', lt: '<', lte: '<=', in: 'IN' } as const;
/** The time-range parameters of a metric query: [from, to). */
export const RANGE_PARAMS = { from: 'from', to: 'to' } as const;

export interface RollupColumn {
  name: string;
  type: string;
}

function compileFilter(filter: Filter, dialect: SqlDialect): string {
  const value = Array.isArray(filter.value)
    ? `(${filter.value.map((v) => dialect.literal(v)).join(', ')})`
    : dialect.literal(filter.value);
  return `${dialect.quote(filter.field)} ${OPERATORS[filter.op]} ${value}`;
}

const conjunction = (conditions: readonly string[]) => conditions.map((c) => `(${c})`).join(' AND ');

function resultType(measure: Measure): LogicalType {
  switch (measure.kind) {
    case 'count':
    case 'distinct_exact':
    case 'distinct_approx':
      return 'uint64';
    case 'sum':
      return 'int64';
    default:
      return RAW_COLUMNS[measure.column].type;
  }
}

export function aggregateCall(measure: Measure, dialect: SqlDialect): AggregateCall {
  const columns =
    measure.kind === 'count'
      ? []
      : measure.kind === 'latest'
        ? [measure.column, 'event_time' as const, 'event_id' as const]
        : [measure.column];
  return {
    kind: measure.kind,
    args: columns.map((c) => dialect.quote(c)),
    argTypes: columns.map((c) => RAW_COLUMNS[c].type),
    condition: measure.filter ? conjunction(measure.filter.map((f) => compileFilter(f, dialect))) : undefined,
    relativeError: measure.kind === 'distinct_approx' ? measure.relativeError : undefined,
    resultType: resultType(measure),
  };
}

/** Which raw rows a metric reads: its event types, line 0 unless it explodes lines, its filter. */
export function rowCondition(metric: Metric, dialect: SqlDialect): string {
  const eventTypes = metric.eventTypes.map((t) => dialect.literal(t)).join(', ');
  return conjunction([
    `${dialect.quote('event_type')} IN (${eventTypes})`,
    ...(metric.explodesLines ? [] : [`${dialect.quote('line_index')} = 0`]),
    ...(metric.filter ?? []).map((f) => compileFilter(f, dialect)),
  ]);
}

/**
 * Columns of a metric's rollup table: minute, dimensions, then per measure its state (`state`, the
 * speed view) or its finished value typed as the measure's result (`final`, the batch view).
 */
export function rollupColumns(
  metric: Metric,
  dialect: SqlDialect,
  stage: AggregateStage = 'state',
): RollupColumn[] {
  const measureType = (call: AggregateCall) =>
    stage === 'state' ? dialect.stateType(call) : dialect.columnType(call.resultType);
  return [
    { name: MINUTE, type: dialect.columnType('minute') },
    ...metric.dimensions.map((d) => ({ name: d.name, type: dialect.columnType(RAW_COLUMNS[d.column].type) })),
    ...metric.measures.map((m) => ({ name: m.name, type: measureType(aggregateCall(m, dialect)) })),
  ];
}

/** The rollup's key, in table order: minute, then the dimensions. */
export function rollupKey(metric: Metric): string[] {
  return [MINUTE, ...metric.dimensions.map((d) => d.name)];
}

/**
 * Aggregates raw rows of `source` to one row per (bucket, dimensions): by default per minute and
 * every dimension, the form of a rollup table. ORDER BY and LIMIT only when the shape asks for them.
 */
export function rollupSelect(
  metric: Metric,
  dialect: SqlDialect,
  { source, stage, ...options }: QueryShape & { source: string; stage: AggregateStage },
): string {
  const q = (id: string) => dialect.quote(id);
  const shape = resolveShape(metric, { bucketAlias: MINUTE, ...options });
  const columnOf = (name: string) => metric.dimensions.find((d) => d.name === name)?.column ?? name;
  const select = [
    ...(shape.bucket ? [`${timeBucket(dialect, q('event_time'), shape.grain)} AS ${q(shape.bucket)}`] : []),
    ...shape.dimensions.map((name) => `${q(columnOf(name))} AS ${q(name)}`),
    ...shape.measures.map((m) => `${dialect.aggregate(aggregateCall(m, dialect), stage)} AS ${q(m.name)}`),
  ];
  const groupBy = [...(shape.bucket ? [shape.bucket] : []), ...shape.dimensions].map(q);
  const where = [
    rowCondition(metric, dialect),
    ...shape.filters.map((f) => dimensionCondition(f, q(columnOf(f.dimension)), dialect)),
  ];
  return [
    `SELECT ${select.join(', ')}`,
    `FROM ${source}`,
    `WHERE ${where.join(' AND ')}`,
    ...(groupBy.length > 0 ? [`GROUP BY ${groupBy.join(', ')}`] : []),
    ...(options.orderBy || options.limit !== undefined ? orderAndLimit(shape, dialect) : []),
  ].join('\n');
}

export const GRAINS = ['minute', 'hour', 'day', 'all'] as const;
/** Time bucket of a query's rows; `all` is one bucket for the whole range (top-N over a range). */
export type Grain = (typeof GRAINS)[number];

export const DIMENSION_FILTER_OPS = ['eq', 'ne', 'in'] as const;
export interface DimensionFilter {
  dimension: string;
  op: (typeof DIMENSION_FILTER_OPS)[number];
  values: readonly string[];
}

export interface OrderTerm {
  /** The bucket column, a kept dimension or a measure. */
  column: string;
  direction: 'asc' | 'desc';
}

/** The shape of a metric query: how rows are bucketed, grouped, filtered, ordered and cut. */
export interface QueryShape {
  /** Default `minute`. */
  grain?: Grain;
  /** Name of the bucket column (default: the grain's name); none for grain `all`. */
  bucketAlias?: string;
  /** Dimensions to keep (default: all); the others are merged away. */
  dimensions?: readonly string[];
  /** Only rows whose dimensions pass every filter. */
  filters?: readonly DimensionFilter[];
  /** Measures to compute (default: all). */
  measures?: readonly string[];
  /** Default: bucket, then kept dimensions, ascending. */
  orderBy?: readonly OrderTerm[];
  limit?: number;
}

export interface ResolvedShape {
  grain: Grain;
  bucket: string | undefined;
  dimensions: string[];
  measures: Measure[];
  filters: readonly DimensionFilter[];
  orderBy: OrderTerm[];
  limit: number | undefined;
}

/** Checks a query shape against a metric, naming what is wrong, and fills in the defaults. */
export function resolveShape(metric: Metric, shape: QueryShape = {}): ResolvedShape {
  const known = metric.dimensions.map((d) => d.name);
  const missing = (names: readonly string[], have: readonly string[]) =>
    names.filter((n) => !have.includes(n));
  const unknown = missing(shape.dimensions ?? [], known);
  if (unknown.length > 0) throw new Error(`metric "${metric.name}" has no dimension ${unknown.join(', ')}`);
  const unknownFilters = missing(
    (shape.filters ?? []).map((f) => f.dimension),
    known,
  );
  if (unknownFilters.length > 0)
    throw new Error(`metric "${metric.name}" has no dimension ${unknownFilters.join(', ')} to filter on`);
  for (const f of shape.filters ?? []) {
    if (f.values.length === 0 || (f.op !== 'in' && f.values.length !== 1))
      throw new Error(
        `filter on ${f.dimension}: op "${f.op}" takes ${f.op === 'in' ? 'one or more values' : 'one value'}`,
      );
  }
  const measureNames = metric.measures.map((m) => m.name);
  const unknownMeasures = missing(shape.measures ?? [], measureNames);
  if (unknownMeasures.length > 0)
    throw new Error(`metric "${metric.name}" has no measure ${unknownMeasures.join(', ')}`);
  const grain = shape.grain ?? MINUTE;
  const bucket = grain === 'all' ? undefined : (shape.bucketAlias ?? grain);
  const dimensions = known.filter((d) => shape.dimensions?.includes(d) ?? true);
  const measures = metric.measures.filter((m) => shape.measures?.includes(m.name) ?? true);
  const columns = [...(bucket ? [bucket] : []), ...dimensions, ...measures.map((m) => m.name)];
  const unorderable = missing(
    (shape.orderBy ?? []).map((o) => o.column),
    columns,
  );
  if (unorderable.length > 0)
    throw new Error(`cannot order by ${unorderable.join(', ')}: the result has ${columns.join(', ')}`);
  if (shape.limit !== undefined && (!Number.isInteger(shape.limit) || shape.limit < 1))
    throw new Error(`limit must be a positive integer, got ${shape.limit}`);
  const orderBy = shape.orderBy?.length
    ? [...shape.orderBy]
    : [...(bucket ? [bucket] : []), ...dimensions].map((column) => ({ column, direction: 'asc' as const }));
  return { grain, bucket, dimensions, measures, filters: shape.filters ?? [], orderBy, limit: shape.limit };
}

function dimensionCondition(filter: DimensionFilter, column: string, dialect: SqlDialect): string {
  const values = filter.values.map((v) => dialect.literal(v));
  if (filter.op === 'in') return `${column} IN (${values.join(', ')})`;
  return `${column} ${OPERATORS[filter.op]} ${values[0]}`;
}

function timeBucket(dialect: SqlDialect, timestamp: string, grain: Grain): string {
  if (grain === 'all') throw new Error('grain "all" has no time bucket');
  return dialect.timeBucket(timestamp, grain);
}

/** ORDER BY and LIMIT of a resolved shape; ties are broken by the full key so pages are stable. */
function orderAndLimit(shape: ResolvedShape, dialect: SqlDialect): string[] {
  const q = dialect.quote;
  const terms = shape.orderBy.map((o) => `${q(o.column)} ${o.direction.toUpperCase()}`);
  const ordered = new Set(shape.orderBy.map((o) => o.column));
  const key = [...(shape.bucket ? [shape.bucket] : []), ...shape.dimensions].filter((c) => !ordered.has(c));
  return [
    `ORDER BY ${[...terms, ...key.map(q)].join(', ') || '1'}`,
    ...(shape.limit !== undefined ? [`LIMIT ${shape.limit}`] : []),
  ];
}

/**
 * Final values from a rollup table of states over [from, to) (bound as RANGE_PARAMS), one row per
 * bucket of the grain and kept dimension; filtered, ordered and limited as the shape says.
 * `bounded: false` leaves out the range and the order, for a view over all time.
 */
export function mergeSelect(
  metric: Metric,
  dialect: SqlDialect,
  { source, bounded = true, ...options }: QueryShape & { source: string; bounded?: boolean },
): string {
  const q = (id: string) => dialect.quote(id);
  const shape = resolveShape(metric, options);
  // Rows are per minute already; a coarser bucket named `minute` would shadow the column in WHERE.
  if (shape.bucket === MINUTE && shape.grain !== MINUTE)
    throw new Error(`a ${shape.grain} bucket cannot be named "${MINUTE}"`);
  const bucketExpr =
    shape.grain === MINUTE || !shape.bucket ? q(MINUTE) : timeBucket(dialect, q(MINUTE), shape.grain);
  const key = [
    ...(shape.bucket
      ? [bucketExpr === q(shape.bucket) ? bucketExpr : `${bucketExpr} AS ${q(shape.bucket)}`]
      : []),
    ...shape.dimensions.map(q),
  ];
  const groupBy = [...(shape.bucket ? [q(shape.bucket)] : []), ...shape.dimensions.map(q)];
  const measures = shape.measures.map(
    (m) => `${dialect.merge(aggregateCall(m, dialect), q(m.name))} AS ${q(m.name)}`,
  );
  const where = [
    ...(bounded
      ? [
          `${q(MINUTE)} >= ${dialect.param(RANGE_PARAMS.from, 'timestamp')}`,
          `${q(MINUTE)} < ${dialect.param(RANGE_PARAMS.to, 'timestamp')}`,
        ]
      : []),
    ...shape.filters.map((f) => dimensionCondition(f, q(f.dimension), dialect)),
  ];
  return [
    `SELECT ${[...key, ...measures].join(', ')}`,
    `FROM ${source}`,
    ...(where.length > 0 ? [`WHERE ${where.join(' AND ')}`] : []),
    ...(groupBy.length > 0 ? [`GROUP BY ${groupBy.join(', ')}`] : []),
    // A view has no order; anything else is ordered (and cut) as the shape says.
    ...(bounded ? orderAndLimit(shape, dialect) : []),
  ].join('\n');
}
