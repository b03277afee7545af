// Selection of quarantined records, turned into a WHERE clause with bound parameters only.
import { DuckDBTimestampValue, type DuckDBValue } from '@duckdb/node-api';

export interface QuarantineFilter {
  /** Records that failed this rule (among others). */
  rule?: string;
  eventType?: string;
  /** Rejected at or after (inclusive): a Date or an ISO 8601 string. */
  from?: Date | string;
  /** Rejected before (exclusive). */
  to?: Date | string;
  /** At most this many records. */
  limit?: number;
}

export interface BoundSql {
  sql: string;
  params: Record<string, DuckDBValue>;
}

function timestamp(name: string, value: Date | string): DuckDBTimestampValue {
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  if (Number.isNaN(ms)) throw new Error(`${name}: not a time: ${String(value)}`);
  return new DuckDBTimestampValue(BigInt(ms) * 1000n);
}

/**
 * Conditions over the table's columns. Time bounds also bound `day`, the hive partition column, so
 * DuckDB opens only the days in range.
 */
export function whereClause(filter: QuarantineFilter): BoundSql {
  const conditions = ['true'];
  const params: Record<string, DuckDBValue> = {};
  if (filter.rule !== undefined) {
    conditions.push('list_contains(rule_ids, $rule)');
    params.rule = filter.rule;
  }
  if (filter.eventType !== undefined) {
    conditions.push('event_type = $eventType');
    params.eventType = filter.eventType;
  }
  if (filter.from !== undefined) {
    conditions.push('rejected_at >= $from', 'day >= CAST($from AS DATE)');
    params.from = timestamp('from', filter.from);
  }
  if (filter.to !== undefined) {
    conditions.push('rejected_at < $to', 'day <= CAST($to AS DATE)');
    params.to = timestamp('to', filter.to);
  }
  return { sql: conditions.join(' AND '), params };
}
