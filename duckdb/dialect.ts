// DuckDB spelling of the metric compiler's operations (the batch recompute's engine).
//
// States. A batch view has to merge with the speed view at any grain (an hour of active users is not
// the sum of its minutes), so the recompute stores per minute and dimensions a portable, mergeable
// state rather than a finished value: counts, sums, mins and maxes are their own states; a distinct
// count keeps its distinct values (a list); a latest value keeps the value, its time and its event's
// id as text, which breaks ties in time (a struct).
// Loading into ClickHouse turns those into the same AggregateFunction states the speed view has, so
// one query merges both layers exactly (batch-layer/load.ts).
//
// Every finished value is cast to the column type of the measure's declared result, so the batch
// view and the ClickHouse speed view agree on types: count -> UBIGINT (UInt64), sum -> BIGINT (Int64;
// DuckDB sums BIGINT into HUGEINT, and the cast fails loudly rather than wrap if a sum ever leaves the
// Int64 range), latest/min/max keep the column's type.
//
// Approximate distincts are counted exactly. DuckDB's only built-in estimator, approx_count_distinct,
// is a HyperLogLog with 64 registers (standard error ~ 1.04 / sqrt(64) = 13%); measured on 200 groups
// of 50 to 100k distinct values its mean error is ~10% and its worst 30-70%. That cannot honour a
// declared bound such as active_users' 2%, and the batch layer has every row anyway, so it returns
// the exact count, which is within any declared error. DUCKDB_HLL_RELATIVE_ERROR records the figure.
import type { AggregateCall, LogicalType, MeasureKind, SqlDialect } from '../contracts/catalog.ts';

const TYPES: Record<LogicalType, string> = {
  uuid: 'UUID',
  string: 'VARCHAR',
  label: 'VARCHAR',
  int64: 'BIGINT',
  uint64: 'UBIGINT',
  bool: 'BOOLEAN',
  timestamp: 'TIMESTAMP',
  minute: 'TIMESTAMP',
};

/** 3-sigma relative error of approx_count_distinct (64 HyperLogLog registers). */
export const DUCKDB_HLL_RELATIVE_ERROR = (3 * 1.04) / Math.sqrt(64);

/**
 * What an aggregate over no rows gives in ClickHouse (`sumIf`, `minIf`, `argMaxIf` return the type's
 * default): DuckDB returns NULL, so filtered aggregates are coalesced to it.
 */
const ZERO: Record<LogicalType, string> = {
  uuid: "'00000000-0000-0000-0000-000000000000'::UUID",
  string: "''",
  label: "''",
  int64: '0',
  uint64: '0',
  bool: 'false',
  timestamp: "TIMESTAMP '1970-01-01 00:00:00'",
  minute: "TIMESTAMP '1970-01-01 00:00:00'",
};

/**
 * What orders a latest measure's rows: the event time, then the event id. DuckDB orders UUIDs as
 * their text (none of a million random pairs differed; test/batch-recompute.test.ts ties two ids
 * across the sign bit), which is how ClickHouse's spelling and the state's `k` compare them. The
 * UUID is 16 fixed bytes in each group's key where its text was a string of 36: inventory's rollup
 * over a soak day peaked at +227 against +240 MB.
 */
const latestOrder = (time?: string, id?: string) => `(${time}, ${id})`;

const FUNCTIONS: Record<MeasureKind, (args: readonly string[]) => string> = {
  count: () => 'count(*)',
  sum: ([value]) => `sum(${value})`,
  min: ([value]) => `min(${value})`,
  max: ([value]) => `max(${value})`,
  distinct_exact: ([value]) => `count(DISTINCT ${value})`,
  distinct_approx: ([value]) => `count(DISTINCT ${value})`,
  // The greatest (time, event id as text), as ClickHouse's spelling.
  latest: ([value, time, id]) => `arg_max(${value}, ${latestOrder(time, id)})`,
};

/** count and distincts give 0 over no rows; the others give NULL. */
const ZERO_OVER_NO_ROWS: ReadonlySet<MeasureKind> = new Set(['count', 'distinct_exact', 'distinct_approx']);

const DISTINCT: ReadonlySet<MeasureKind> = new Set(['distinct_exact', 'distinct_approx']);

function filtered(sql: string, call: AggregateCall): string {
  return call.condition ? `${sql} FILTER (WHERE ${call.condition})` : sql;
}

function final(call: AggregateCall): string {
  let sql = filtered(FUNCTIONS[call.kind](call.args), call);
  if (call.condition && !ZERO_OVER_NO_ROWS.has(call.kind)) sql = `coalesce(${sql}, ${ZERO[call.resultType]})`;
  return `CAST(${sql} AS ${TYPES[call.resultType]})`;
}

/** The portable state of a distinct or latest measure; other kinds are their own state. */
function state(call: AggregateCall): string {
  const [value, time, id] = call.args;
  if (DISTINCT.has(call.kind)) return `coalesce(${filtered(`list(DISTINCT ${value})`, call)}, [])`;
  if (call.kind === 'latest') {
    const order = latestOrder(time, id);
    return `struct_pack(v := ${final(call)}, t := ${filtered(`max(${time})`, call)}, k := CAST(${filtered(`arg_max(${id}, ${order})`, call)} AS VARCHAR))`;
  }
  return final(call);
}

const MERGES: Record<MeasureKind, (column: string) => string> = {
  count: (c) => `sum(${c})`,
  sum: (c) => `sum(${c})`,
  min: (c) => `min(${c})`,
  max: (c) => `max(${c})`,
  distinct_exact: (c) => `len(list_distinct(flatten(list(${c}))))`,
  distinct_approx: (c) => `len(list_distinct(flatten(list(${c}))))`,
  latest: (c) => `arg_max(${c}.v, (${c}.t, ${c}.k))`,
};

export const duckdbDialect: SqlDialect = {
  name: 'duckdb',
  quote: (identifier) => `"${identifier.replace(/"/g, '""')}"`,
  literal(value) {
    if (typeof value === 'boolean') return value ? 'true' : 'false';
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new Error(`not a finite SQL number: ${value}`);
      return String(value);
    }
    return `'${value.replace(/'/g, "''")}'`;
  },
  param: (name, type) => `CAST($${name} AS ${TYPES[type]})`,
  columnType: (type) => TYPES[type],
  timeBucket: (timestamp, grain) => `date_trunc('${grain}', ${timestamp})`,
  aggregate: (call, stage) => (stage === 'state' ? state(call) : final(call)),
  stateType(call) {
    if (DISTINCT.has(call.kind)) return `${TYPES[call.argTypes[0] ?? 'string']}[]`;
    if (call.kind === 'latest')
      return `STRUCT(v ${TYPES[call.resultType]}, t ${TYPES.timestamp}, k ${TYPES.string})`;
    return TYPES[call.resultType];
  },
  merge: (call, column) => `CAST(${MERGES[call.kind](column)} AS ${TYPES[call.resultType]})`,
};
