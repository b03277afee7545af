// The seam between the generic metric compiler and one SQL engine. The compiler decides what is
// computed (rows, groups, which aggregate over which columns); a dialect decides how the engine
// spells it. ClickHouse lives in speed-layer/, DuckDB in batch-layer/.
import type { MeasureKind } from './catalog-types.ts';
import type { LogicalType } from './raw-rows.ts';

/** One measure's aggregate with its arguments already compiled to SQL. */
export interface AggregateCall {
  kind: MeasureKind;
  /**
   * count: none; latest: [value, time, event id], the value of the greatest (time, id as text): a
   * tie in time goes to the same event in every engine and for every measure, whatever the order
   * rows come in; others: [value].
   */
  args: readonly string[];
  argTypes: readonly LogicalType[];
  /** Compiled measure filter: only rows passing it are aggregated. */
  condition?: string;
  /** Declared bound for distinct_approx. */
  relativeError?: number;
  resultType: LogicalType;
}

/**
 * `state`: what a rollup table stores per (minute, dims) so that groups can be merged later;
 * `final`: the value itself. An engine without mergeable states stores `final` at the minute grain.
 */
export type AggregateStage = 'state' | 'final';

export interface SqlDialect {
  readonly name: string;
  quote(identifier: string): string;
  literal(value: string | number | boolean): string;
  /** Placeholder for a bound query parameter. */
  param(name: string, type: LogicalType): string;
  columnType(type: LogicalType): string;
  /** Start of the UTC minute, hour or day of a timestamp expression, typed as `minute`. */
  timeBucket(timestamp: string, grain: 'minute' | 'hour' | 'day'): string;
  aggregate(call: AggregateCall, stage: AggregateStage): string;
  /** Column type holding `aggregate(call, 'state')`. */
  stateType(call: AggregateCall): string;
  /** Final value from a state column, aggregating over the rows being grouped. */
  merge(call: AggregateCall, stateColumn: string): string;
}
