// ClickHouse spelling of the metric compiler's operations. States are AggregateFunction columns
// (or SimpleAggregateFunction where the value is its own state) of an AggregatingMergeTree.
import type { AggregateCall, LogicalType, MeasureKind, SqlDialect } from '../contracts/catalog.ts';

const TYPES: Record<LogicalType, string> = {
  uuid: 'UUID',
  string: 'String',
  label: 'LowCardinality(String)',
  int64: 'Int64',
  uint64: 'UInt64',
  bool: 'Bool',
  timestamp: "DateTime64(3, 'UTC')",
  minute: "DateTime('UTC')",
};

// uniqCombined64 is HyperLogLog above a small exact range, with standard error ≈ 1.04 / sqrt(2^p).
// Pick the smallest precision whose 3-sigma error is within the declared bound.
const HLL_PRECISIONS = [12, 13, 14, 15, 16, 17, 18, 19, 20];
const THREE_SIGMA = 3;

export function hllPrecision(relativeError: number): number {
  const precision = HLL_PRECISIONS.find((p) => (THREE_SIGMA * 1.04) / Math.sqrt(2 ** p) <= relativeError);
  if (precision === undefined)
    throw new Error(`no uniqCombined64 precision reaches relative error ${relativeError}`);
  return precision;
}

/**
 * `simple`: the value is its own state, merged by `merge` (count's partial counts are summed).
 * `args` and `argTypes`: the aggregate's arguments and their types made from the call's, where
 * they differ.
 */
type Spelling = {
  fn: string;
  params?: (call: AggregateCall) => string;
  simple?: { merge: string };
  args?: (args: readonly string[]) => string[];
  argTypes?: (types: readonly string[]) => string[];
};

const SPELLINGS: Record<MeasureKind, Spelling> = {
  count: { fn: 'count', simple: { merge: 'sum' } },
  sum: { fn: 'sum', simple: { merge: 'sum' } },
  min: { fn: 'min', simple: { merge: 'min' } },
  max: { fn: 'max', simple: { merge: 'max' } },
  distinct_exact: { fn: 'uniqExact' },
  distinct_approx: { fn: 'uniqCombined64', params: (call) => `(${hllPrecision(call.relativeError ?? 0)})` },
  // argMax by (event time, event id as text), as DuckDB's spelling: of two updates in the same
  // millisecond the one with the greater id wins, whatever their order of arrival. (ClickHouse
  // orders UUIDs by their second half first, DuckDB by their text: text is the order both share.)
  latest: {
    fn: 'argMax',
    args: ([value, time, id]) => [`${value}`, `tuple(${time}, toString(${id}))`],
    argTypes: ([value, time]) => [`${value}`, `Tuple(${time}, String)`],
  },
};

const argumentsOf = (call: AggregateCall): readonly string[] =>
  SPELLINGS[call.kind].args?.(call.args) ?? call.args;

function argumentTypes(call: AggregateCall): readonly string[] {
  const types = call.argTypes.map((t) => TYPES[t]);
  return SPELLINGS[call.kind].argTypes?.(types) ?? types;
}

const BUCKETS = { minute: 'toStartOfMinute', hour: 'toStartOfHour', day: 'toStartOfDay' } as const;

const quote = (identifier: string) => `\`${identifier.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;

export const clickhouseDialect: SqlDialect = {
  name: 'clickhouse',
  quote,
  literal(value) {
    if (typeof value === 'boolean') return value ? 'true' : 'false';
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new Error(`not a finite SQL number: ${value}`);
      return String(value);
    }
    return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  },
  param: (name, type) => `{${name}:${TYPES[type]}}`,
  columnType: (type) => TYPES[type],
  timeBucket: (timestamp, grain) => `${BUCKETS[grain]}(${timestamp})`,
  aggregate(call, stage) {
    const { fn, params, simple } = SPELLINGS[call.kind];
    const combinators = `${call.condition ? 'If' : ''}${stage === 'state' && !simple ? 'State' : ''}`;
    const args = call.condition ? [...argumentsOf(call), call.condition] : argumentsOf(call);
    return `${fn}${combinators}${params?.(call) ?? ''}(${args.join(', ')})`;
  },
  stateType(call) {
    const { fn, params, simple } = SPELLINGS[call.kind];
    if (simple) return `SimpleAggregateFunction(${simple.merge}, ${TYPES[call.resultType]})`;
    return `AggregateFunction(${[`${fn}${params?.(call) ?? ''}`, ...argumentTypes(call)].join(', ')})`;
  },
  merge(call, stateColumn) {
    const { fn, params, simple } = SPELLINGS[call.kind];
    return simple ? `${simple.merge}(${stateColumn})` : `${fn}Merge${params?.(call) ?? ''}(${stateColumn})`;
  },
};

/**
 * The state a measure's -State aggregate would build from the values in `arrays` (one array per
 * aggregate argument): how portable batch states become the speed view's AggregateFunction states.
 */
export function arrayState(call: AggregateCall, arrays: readonly string[]): string {
  const { fn, params, args } = SPELLINGS[call.kind];
  // Arguments spelled from the call's are made element by element from the arrays.
  const names = arrays.map((_, i) => `x${i}`);
  const spelled = args
    ? args(names).map((arg) =>
        names.includes(arg)
          ? arrays[names.indexOf(arg)]
          : `arrayMap((${names.join(', ')}) -> ${arg}, ${arrays.join(', ')})`,
      )
    : arrays;
  return `arrayReduce('${fn}State${params?.(call) ?? ''}', ${spelled.join(', ')})`;
}
