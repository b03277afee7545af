// What the generator actually sent, for checking every downstream layer against.
import type { EventType } from '../contracts/index.ts';
import { BAD_KINDS, type BadKind } from './bad-records.ts';
import type { GeneratedRecord } from './generate.ts';

export interface MinuteRegionOrders {
  /** UTC minute of eventTime, e.g. `2025-01-01T00:03:00Z`. */
  minute: string;
  region: string;
  /** Good order.created events (duplicates excluded). */
  orders: number;
  revenueMinor: number;
  units: number;
}

export interface GroundTruthReport {
  totals: { emitted: number; good: number; duplicates: number; bad: number };
  badKinds: Record<BadKind, number>;
  /** Good events (first occurrences only) per event type. */
  eventTypes: Partial<Record<EventType, number>>;
  /** Sorted by minute, then region. */
  orders: MinuteRegionOrders[];
}

/** UTC minute of an ISO-8601 time; the generator writes `...Z`, so slicing is the common case. */
function utcMinute(eventTime: string): string {
  const utc = eventTime.endsWith('Z') ? eventTime : new Date(eventTime).toISOString();
  return `${utc.slice(0, 16)}:00Z`;
}

export class GroundTruth {
  private emitted = 0;
  private duplicates = 0;
  private readonly badKinds = Object.fromEntries(BAD_KINDS.map((kind) => [kind, 0])) as Record<
    BadKind,
    number
  >;
  private readonly eventTypes: Partial<Record<EventType, number>> = {};
  private readonly orders = new Map<string, MinuteRegionOrders>();

  add(record: GeneratedRecord): void {
    this.emitted++;
    if (record.kind === 'duplicate') {
      this.duplicates++;
      return;
    }
    if (record.kind !== 'good') {
      this.badKinds[record.kind]++;
      return;
    }
    const event = record.event;
    if (!event) throw new Error('a good record must carry its event');
    this.eventTypes[event.eventType] = (this.eventTypes[event.eventType] ?? 0) + 1;
    if (event.eventType !== 'order.created') return;
    const { region, lines, totalMinor } = event.payload;
    const minute = utcMinute(event.eventTime);
    const key = `${minute}\u0000${region}`;
    let cell = this.orders.get(key);
    if (!cell) {
      cell = { minute, region, orders: 0, revenueMinor: 0, units: 0 };
      this.orders.set(key, cell);
    }
    cell.orders++;
    cell.revenueMinor += totalMinor;
    for (const line of lines) cell.units += line.quantity;
  }

  toJSON(): GroundTruthReport {
    const bad = Object.values(this.badKinds).reduce((sum, n) => sum + n, 0);
    return {
      totals: {
        emitted: this.emitted,
        good: this.emitted - this.duplicates - bad,
        duplicates: this.duplicates,
        bad,
      },
      badKinds: { ...this.badKinds },
      eventTypes: { ...this.eventTypes },
      orders: [...this.orders.values()]
        .map((cell) => ({ ...cell }))
        .sort((a, b) =>
          a.minute === b.minute ? a.region.localeCompare(b.region) : a.minute < b.minute ? -1 : 1,
        ),
    };
  }
}
