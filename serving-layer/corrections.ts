// Late events in a merged answer. An event accepted for a minute below the watermark after its day
// was recomputed is in the speed view and the lake, not yet in the batch view. Both views count
// every accepted event (the catalog's `accepted_events`), so one ClickHouse query finds the hours of
// a range where the speed view holds more accepted events than the batch view: those hours are
// answered from the speed view until a correction recomputes their day (see merge-plan.ts), within
// the speed view's retention. Hours the correction scan found in the lake but the speed view does
// not answer (beyond its retention, or never consumed by it) are reported as still missing rows.
import type { ClickHouseClient } from '@clickhouse/client';
import type { PendingDay } from '../batch-layer/index.ts';
import { clickhouseDialect as ch } from '../clickhouse/index.ts';
import { type Metric, RANGE_PARAMS, toSqlTimestamp } from '../contracts/catalog.ts';
import type { Boundary } from './merge-plan.ts';
import { mergedQuery } from './merged-query.ts';

const HOUR_MS = 3_600_000;
const floorHour = (ms: number) => Math.floor(ms / HOUR_MS) * HOUR_MS;
const ceilHour = (ms: number) => Math.ceil(ms / HOUR_MS) * HOUR_MS;

export interface LateHour {
  /** One UTC hour, [from, to) in ms. */
  from: number;
  to: number;
  /** Accepted events the speed view holds and the batch view does not. */
  events: number;
}

/** The whole hours of [from, to) below the watermark and within the speed view's retention. */
export function comparedWindow(
  range: { from: number; to: number },
  boundary: Boundary | undefined,
  retentionMs: number,
  now: number,
): { from: number; to: number } | undefined {
  if (!boundary) return undefined;
  const from = Math.max(floorHour(range.from), boundary.since, ceilHour(now - retentionMs));
  const to = Math.min(ceilHour(range.to), boundary.watermark);
  return from < to ? { from, to } : undefined;
}

/** Hours of `window` where the speed view counts more accepted events than the batch view. */
export async function lateHours(
  client: ClickHouseClient,
  accepted: Metric,
  window: { from: number; to: number },
): Promise<LateHour[]> {
  const perHour = (layer: 'speed' | 'batch') =>
    mergedQuery(accepted, window, [{ layer, ...window }], {
      grain: 'hour',
      bucketAlias: 'time',
      dimensions: [],
    });
  const speed = perHour('speed');
  const batch = perHour('batch');
  const strip = (q: string) => q.slice(0, q.lastIndexOf('\nSETTINGS'));
  const query = [
    `SELECT toUnixTimestamp(s.${ch.quote('time')}) AS hour, toInt64(s.events) - toInt64(b.events) AS late`,
    `FROM (${strip(speed.query)}) AS s`,
    `LEFT JOIN (${strip(batch.query)}) AS b ON s.${ch.quote('time')} = b.${ch.quote('time')}`,
    'WHERE s.events > b.events ORDER BY hour',
    'SETTINGS output_format_json_quote_64bit_integers = 0',
  ].join('\n');
  const result = await client.query({
    query,
    query_params: {
      ...speed.query_params,
      ...batch.query_params,
      [RANGE_PARAMS.from]: toSqlTimestamp(new Date(window.from).toISOString()),
      [RANGE_PARAMS.to]: toSqlTimestamp(new Date(window.to).toISOString()),
    },
    format: 'JSONEachRow',
  });
  const rows = await result.json<{ hour: number; late: number }>();
  return rows.map((r) => ({ from: r.hour * 1000, to: r.hour * 1000 + HOUR_MS, events: Number(r.late) }));
}

export type PendingRange =
  | { from: string; to: string; layer: 'speed'; events: number }
  | { from: string; to: string; layer: 'batch'; lakeRows: number };

/**
 * meta.corrections.pending: the hours of the range the speed view answers for late events, and the
 * hours the correction scan found whose late rows the answer still lacks until their correction.
 */
export function pendingRanges(
  range: { from: number; to: number },
  late: readonly LateHour[],
  scanned: readonly PendingDay[],
): PendingRange[] {
  const iso = (ms: number) => new Date(ms).toISOString();
  const clip = (h: { from: number; to: number }) => ({
    from: Math.max(h.from, range.from),
    to: Math.min(h.to, range.to),
  });
  const ranges: PendingRange[] = [];
  for (const h of late) {
    const c = clip(h);
    if (c.from < c.to) ranges.push({ from: iso(c.from), to: iso(c.to), layer: 'speed', events: h.events });
  }
  for (const h of scanned.flatMap((d) => d.hours)) {
    const c = clip(h);
    if (c.from >= c.to || late.some((l) => l.from < h.to && h.from < l.to)) continue;
    ranges.push({ from: iso(c.from), to: iso(c.to), layer: 'batch', lakeRows: h.rows });
  }
  // ISO-8601 UTC instants of one format sort as text.
  return ranges.sort((a, b) => a.from.localeCompare(b.from));
}
