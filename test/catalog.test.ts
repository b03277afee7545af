// The metric catalog: load-time validation, raw-row flattening, and the generic SQL compiler.
import { describe, expect, it } from 'vitest';
import { clickhouseDialect, hllPrecision } from '../clickhouse/index.ts';
import {
  CATALOG,
  defineCatalog,
  getMetric,
  indexDimensions,
  mergeSelect,
  metricTable,
  RAW_COLUMN_NAMES,
  rollupSelect,
  toRawRows,
  toSqlTimestamp,
} from '../contracts/catalog.ts';
import type { TidewaterEvent } from '../contracts/index.ts';
import { FIXTURE_DIMENSIONS, fixtureEvents } from './support/metric-fixture.ts';

const valid = {
  name: 'probe',
  version: 1,
  description: 'A metric for validation tests.',
  eventTypes: ['cart.add'],
  grain: 'minute',
  dimensions: [{ name: 'category', column: 'category' }],
  measures: [{ name: 'adds', kind: 'count' }],
  explodesLines: false,
};
const rejects = (metric: object) => expect(() => defineCatalog([metric]));

describe('catalog validation', () => {
  it('loads the shipped catalog with the required metrics and unique versioned tables', () => {
    const names = CATALOG.map((m) => m.name);
    for (const name of [
      'orders',
      'sales_by_category',
      'active_users',
      'cart_activity',
      'product_engagement',
      'inventory',
      'failed_payments',
    ]) {
      expect(names).toContain(name);
    }
    expect(new Set(CATALOG.map(metricTable)).size).toBe(CATALOG.length);
    expect(defineCatalog([valid])).toHaveLength(1);
  });

  it('rejects unknown columns, naming the metric and the field', () => {
    rejects({ ...valid, dimensions: [{ name: 'region', column: 'regionn' }] }).toThrow(
      /metric "probe": dimensions\[0\]\.column: unknown raw column "regionn"/,
    );
    rejects({ ...valid, measures: [{ name: 'units', kind: 'sum', column: 'qty' }] }).toThrow(
      /metric "probe": measures\[0\]\.column: unknown raw column "qty"/,
    );
    rejects({ ...valid, filter: [{ field: 'sucess', op: 'eq', value: false }] }).toThrow(
      /metric "probe": filter\[0\]\.field: unknown raw column "sucess"/,
    );
    rejects({ ...valid, eventTypes: ['cart.added'] }).toThrow(
      /metric "probe": eventTypes\[0\]: unknown event type "cart.added"/,
    );
  });

  it('rejects definitions that would compute the wrong thing', () => {
    // Without exploding lines only line 0 of an order is read: a line column would drop lines.
    rejects({ ...valid, eventTypes: ['order.created'] }).toThrow(
      /reads line column category without explodesLines/,
    );
    // Exploded, an order total repeats on every line.
    rejects({
      ...valid,
      eventTypes: ['order.created'],
      measures: [{ name: 'revenue_minor', kind: 'sum', column: 'total_minor' }],
      explodesLines: true,
    }).toThrow(/sums order-level total_minor once per line/);
    rejects({ ...valid, filter: [{ field: 'success', op: 'eq', value: 'false' }] }).toThrow(
      /success is bool, compared with "false"/,
    );
    rejects({ ...valid, filter: [{ field: 'quantity', op: 'in', value: 1 }] }).toThrow(
      /op "in" needs list value/,
    );
    rejects({ ...valid, measures: [{ name: 'users', kind: 'distinct_approx', column: 'user_id' }] }).toThrow(
      /metric "probe": measures\[0\]\.relativeError/,
    );
    rejects({ ...valid, measures: [{ name: 'quantity', kind: 'sum', column: 'quantity' }] }).toThrow(
      /measure "quantity" is named like a raw column/,
    );
    rejects({ ...valid, dimensions: [{ name: 'region', column: 'category' }] }).toThrow(
      /dimension "region" must read column region/,
    );
    rejects({ ...valid, measures: [...valid.measures, { name: 'category', kind: 'count' }] }).toThrow(
      /output name "category" is used twice/,
    );
    expect(() => defineCatalog([valid, valid])).toThrow(/metric "probe" is defined twice/);
  });

  it('reports every bad metric at once', () => {
    expect(() =>
      defineCatalog([
        { ...valid, name: 'first', grain: 'hour' },
        { ...valid, name: 'second', version: 0 },
      ]),
    ).toThrow(/metric "first": grain[\s\S]*metric "second": version/);
  });
});

describe('toRawRows', () => {
  const index = indexDimensions(FIXTURE_DIMENSIONS);
  const events = fixtureEvents('2025-03-01');
  const byType = (type: string) => events.filter((e) => e.eventType === type);

  it('explodes an order into one row per line, enriched with the category, totals on every line', () => {
    const [o1] = byType('order.created');
    const rows = toRawRows(o1 as TidewaterEvent, index);
    expect(
      rows.map((r) => [r.line_index, r.product_id, r.category, r.quantity, r.line_revenue_minor]),
    ).toEqual([
      [0, 'P000001', 'electronics', 2, 2000],
      [1, 'P000002', 'toys', 1, 550],
    ]);
    for (const row of rows) {
      expect(row).toMatchObject({
        order_id: 'o1',
        region: 'texas',
        channel: 'web',
        total_minor: 2550,
        order_units: 3,
      });
    }
  });

  it('takes an inventory row’s region from its location and flags a stock-out', () => {
    const rows = byType('inventory.update').flatMap((e) => toRawRows(e, index));
    expect(rows.map((r) => [r.location_id, r.region, r.on_hand, r.stock_out])).toEqual([
      ['S0001', 'texas', 0, true],
      ['S0001', 'texas', 5, false],
      ['FC01', 'mountain', 7, false],
      ['S0001', 'texas', 12, false],
    ]);
  });

  it('gives every row every column and normalises event time to UTC', () => {
    const rows = events.flatMap((e) => toRawRows(e, index));
    for (const row of rows) expect(Object.keys(row)).toEqual(RAW_COLUMN_NAMES);
    expect(toSqlTimestamp('2025-03-01T12:00:00.250+02:00')).toBe('2025-03-01 10:00:00.250');
  });
});

describe('generated SQL', () => {
  it('reads line 0 for order-level metrics and every line for line-level ones', () => {
    const source = 'events_raw';
    const orders = rollupSelect(getMetric('orders'), clickhouseDialect, { source, stage: 'state' });
    const sales = rollupSelect(getMetric('sales_by_category'), clickhouseDialect, { source, stage: 'state' });
    expect(orders).toContain('(`line_index` = 0)');
    expect(sales).not.toContain('line_index');
  });

  it('spells measure filters, approximate distincts and latest values as ClickHouse states', () => {
    const cart = rollupSelect(getMetric('cart_activity'), clickhouseDialect, { source: 't', stage: 'state' });
    expect(cart).toContain("sumIf(`quantity`, (`event_type` = 'cart.add')) AS `units_added`");
    const users = rollupSelect(getMetric('active_users'), clickhouseDialect, { source: 't', stage: 'state' });
    expect(users).toContain('uniqCombined64State(15)(`user_id`) AS `users`');
    const inventory = mergeSelect(getMetric('inventory'), clickhouseDialect, { source: 't' });
    expect(inventory).toContain('argMaxMerge(`latest_on_hand`) AS `latest_on_hand`');
    expect(inventory).toContain("`minute` >= {from:DateTime64(3, 'UTC')}");
  });

  it('picks the HyperLogLog precision from the declared error, and refuses one it cannot honour', () => {
    expect(hllPrecision(0.02)).toBe(15);
    expect(hllPrecision(0.01)).toBe(17);
    expect(() => hllPrecision(0.001)).toThrow(/no uniqCombined64 precision/);
  });

  it('refuses to merge over a dimension the metric does not have', () => {
    expect(() =>
      mergeSelect(getMetric('orders'), clickhouseDialect, { source: 't', dimensions: ['category'] }),
    ).toThrow(/metric "orders" has no dimension category/);
  });
});
