// What the raw rows of a contract-valid event need to be stored exactly by both layers. Fields are
// bounded one by one by the contract; these are the values the rows derive from several fields, and
// the event time's reach:
// - line revenue (quantity × unit price) and order units (the sum of quantities) are computed in JS
//   by the speed layer and in BIGINT by DuckDB: above 2^53 JS rounds where DuckDB does not (and
//   above 2^63 the RowBinary encoder and DuckDB fail), so the layers would disagree or stall;
// - every minute rollup buckets the event time in ClickHouse `DateTime` (seconds since 1970 in 32
//   unsigned bits), which wraps silently outside 1970-01-01 .. 2106-02-07T06:28:15Z.
import type { OrderLine, TidewaterEvent } from './events.ts';

export const MIN_STORABLE_TIME_MS = 0;
/** The last second ClickHouse `DateTime` holds, 2^32 - 1 s, to its last millisecond. */
export const MAX_STORABLE_TIME_MS = 4_294_967_295_999;

const exceeds = (field: string, what: string, value: number) =>
  `${field}: ${what} = ${value} exceeds ${Number.MAX_SAFE_INTEGER}, the largest integer both layers compute exactly`;

function lineRevenue(field: string, quantity: number, unitPriceMinor: number): string | undefined {
  const revenue = quantity * unitPriceMinor;
  return revenue > Number.MAX_SAFE_INTEGER ? exceeds(field, 'quantity × unitPriceMinor', revenue) : undefined;
}

function orderLines(lines: readonly OrderLine[]): string | undefined {
  let units = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as OrderLine;
    const problem = lineRevenue(`payload.lines[${i}]`, line.quantity, line.unitPriceMinor);
    if (problem !== undefined) return problem;
    units += line.quantity;
  }
  return units > Number.MAX_SAFE_INTEGER
    ? exceeds('payload.lines', 'the sum of quantities', units)
    : undefined;
}

/** Why a contract-valid event cannot be stored exactly, or undefined (`eventTimeMs`: its time parsed). */
export function storableProblem(event: TidewaterEvent, eventTimeMs: number): string | undefined {
  if (!(eventTimeMs >= MIN_STORABLE_TIME_MS && eventTimeMs <= MAX_STORABLE_TIME_MS))
    return `eventTime: ${event.eventTime} is outside 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z, the range of the rollups' minute columns`;
  switch (event.eventType) {
    case 'order.created':
    case 'order.completed':
    case 'order.cancelled':
      return orderLines(event.payload.lines);
    case 'cart.add':
    case 'cart.remove':
      return lineRevenue('payload', event.payload.quantity, event.payload.unitPriceMinor);
    default:
      return undefined;
  }
}
