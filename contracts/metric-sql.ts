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
        ? [measure.column, 'event_time' as const]
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

/** Aggregates raw rows of `source` to one row per (minute, dimensions). */
export function rollupSelect(
  metric: Metric,
  dialect: SqlDialect,
  { source, stage }: { source: string; stage: AggregateStage },
): string {
  const q = (id: string) => dialect.quote(id);
  const select = [
    `${dialect.minuteBucket(q('event_time'))} AS ${q(MINUTE)}`,
    ...metric.dimensions.map((d) => `${q(d.column)} AS ${q(d.name)}`),
    ...metric.measures.map((m) => `${dialect.aggregate(aggregateCall(m, dialect), stage)} AS ${q(m.name)}`),
  ];
  return [
    `SELECT ${select.join(', ')}`,
    `FROM ${source}`,
    `WHERE ${rowCondition(metric, dialect)}`,
    `GROUP BY ${rollupKey(metric).map(q).join(', ')}`,
  ].join('\n');
}

export interface MergeOptions {
  /** Dimensions to keep (default: all); the others are merged away. */
  dimensions?: readonly string[];
}

/**
 * Final values from a rollup table of states over [from, to) (bound as RANGE_PARAMS), one row per
 * minute and kept dimension, ordered by them.
 */
export function mergeSelect(
  metric: Metric,
  dialect: SqlDialect,
  { source, dimensions }: MergeOptions & { source: string },
): string {
  const q = (id: string) => dialect.quote(id);
  const known = metric.dimensions.map((d) => d.name);
  const unknown = (dimensions ?? []).filter((d) => !known.includes(d));
  if (unknown.length > 0) throw new Error(`metric "${metric.name}" has no dimension ${unknown.join(', ')}`);
  const key = [MINUTE, ...known.filter((d) => dimensions?.includes(d) ?? true)].map(q);
  const measures = metric.measures.map(
    (m) => `${dialect.merge(aggregateCall(m, dialect), q(m.name))} AS ${q(m.name)}`,
  );
  return [
    `SELECT ${[...key, ...measures].join(', ')}`,
    `FROM ${source}`,
    `WHERE ${q(MINUTE)} >= ${dialect.param(RANGE_PARAMS.from, 'timestamp')}` +
      ` AND ${q(MINUTE)} < ${dialect.param(RANGE_PARAMS.to, 'timestamp')}`,
    `GROUP BY ${key.join(', ')}`,
    `ORDER BY ${key.join(', ')}`,
  ].join('\n');
}
