// The metric catalog: every metric of both layers, as data. SQL for ClickHouse (speed) and DuckDB
// (batch) is generated from these entries, so adding a metric is adding one entry here.
//
// Rows are raw rows (raw-rows.ts): one per event, one per line for orders. That splits sales in two:
// - `orders` is order-level (explodesLines: false, so only line 0 of each order is read): order
//   count, revenue (sum of totalMinor) and units (sum of the order's line quantities) per region and
//   channel. Summed over channels it equals the generator's ground truth per minute and region.
// - `sales_by_category` is line-level (explodesLines: true): units and line revenue (quantity ×
//   unit price) per region, category and channel. An order spanning two categories counts in both,
//   so its `orders` (distinct order ids) is not additive across categories; units and revenue are.
//   Line revenue sums to totalMinor only while totals carry no discounts, taxes or shipping.
import { type Catalog, defineCatalog, type Metric } from './catalog-types.ts';
import { EVENT_TYPES } from './events.ts';

export * from './catalog-types.ts';
export * from './metric-sql.ts';
export * from './raw-rows.ts';
export * from './sql-dialect.ts';

const SHOPPER_EVENTS = [
  'page.view',
  'product.click',
  'cart.add',
  'cart.remove',
  'order.created',
  'order.completed',
  'order.cancelled',
  'payment.attempted',
  'feedback.submitted',
];

export const CATALOG = defineCatalog([
  {
    name: 'orders',
    version: 1,
    description: 'Orders placed, their revenue and units, per minute, region and channel.',
    eventTypes: ['order.created'],
    grain: 'minute',
    dimensions: [
      { name: 'region', column: 'region' },
      { name: 'channel', column: 'channel' },
    ],
    measures: [
      { name: 'orders', kind: 'count' },
      { name: 'revenue_minor', kind: 'sum', column: 'total_minor' },
      { name: 'units', kind: 'sum', column: 'order_units' },
    ],
    explodesLines: false,
  },
  {
    name: 'sales_by_category',
    version: 1,
    description: 'Units and line revenue of placed orders per minute, region, category and channel.',
    eventTypes: ['order.created'],
    grain: 'minute',
    dimensions: [
      { name: 'region', column: 'region' },
      { name: 'category', column: 'category' },
      { name: 'channel', column: 'channel' },
    ],
    measures: [
      { name: 'units', kind: 'sum', column: 'quantity' },
      { name: 'revenue_minor', kind: 'sum', column: 'line_revenue_minor' },
      { name: 'order_lines', kind: 'count' },
      { name: 'orders', kind: 'distinct_exact', column: 'order_id' },
    ],
    explodesLines: true,
  },
  {
    name: 'active_users',
    version: 1,
    description:
      'Distinct shoppers per minute and region. Only order events carry a region: other activity ' +
      "falls under region ''. Merging the states over regions gives all active users, counted once.",
    eventTypes: SHOPPER_EVENTS,
    grain: 'minute',
    dimensions: [{ name: 'region', column: 'region' }],
    measures: [
      { name: 'users', kind: 'distinct_approx', column: 'user_id', relativeError: 0.02 },
      { name: 'users_exact', kind: 'distinct_exact', column: 'user_id' },
    ],
    explodesLines: false,
  },
  {
    name: 'cart_activity',
    version: 1,
    description: 'Cart adds and removes (events and units) per minute and product category.',
    eventTypes: ['cart.add', 'cart.remove'],
    grain: 'minute',
    dimensions: [{ name: 'category', column: 'category' }],
    measures: [
      { name: 'adds', kind: 'count', filter: [{ field: 'event_type', op: 'eq', value: 'cart.add' }] },
      { name: 'removes', kind: 'count', filter: [{ field: 'event_type', op: 'eq', value: 'cart.remove' }] },
      {
        name: 'units_added',
        kind: 'sum',
        column: 'quantity',
        filter: [{ field: 'event_type', op: 'eq', value: 'cart.add' }],
      },
      {
        name: 'units_removed',
        kind: 'sum',
        column: 'quantity',
        filter: [{ field: 'event_type', op: 'eq', value: 'cart.remove' }],
      },
    ],
    explodesLines: false,
  },
  {
    name: 'product_engagement',
    version: 1,
    description: 'Product page views and product clicks per minute and product, for top products.',
    eventTypes: ['page.view', 'product.click'],
    filter: [{ field: 'product_id', op: 'ne', value: '' }],
    grain: 'minute',
    dimensions: [{ name: 'product_id', column: 'product_id' }],
    measures: [
      { name: 'views', kind: 'count', filter: [{ field: 'event_type', op: 'eq', value: 'page.view' }] },
      { name: 'clicks', kind: 'count', filter: [{ field: 'event_type', op: 'eq', value: 'product.click' }] },
    ],
    explodesLines: false,
  },
  {
    name: 'inventory',
    // 2: of updates in the same millisecond, the one with the greater event id (in 1, either one).
    version: 2,
    description:
      'Stock on hand per minute, location and product: the last reported value in the minute ' +
      '(by event time) and whether it was zero (a stock-out).',
    eventTypes: ['inventory.update'],
    grain: 'minute',
    dimensions: [
      { name: 'location_id', column: 'location_id' },
      { name: 'product_id', column: 'product_id' },
    ],
    measures: [
      { name: 'latest_on_hand', kind: 'latest', column: 'on_hand' },
      { name: 'is_stock_out', kind: 'latest', column: 'stock_out' },
      { name: 'updates', kind: 'count' },
      { name: 'last_update', kind: 'max', column: 'event_time' },
    ],
    explodesLines: false,
  },
  {
    name: 'failed_payments',
    version: 1,
    description:
      'Declined payment attempts per minute and card: many small declines on one card from ' +
      'several IPs is the card-testing signal.',
    eventTypes: ['payment.attempted'],
    filter: [{ field: 'success', op: 'eq', value: false }],
    grain: 'minute',
    dimensions: [{ name: 'card_fingerprint', column: 'card_fingerprint' }],
    measures: [
      { name: 'failures', kind: 'count' },
      { name: 'failed_amount_minor', kind: 'sum', column: 'amount_minor' },
      { name: 'ips', kind: 'distinct_exact', column: 'ip_hash' },
    ],
    explodesLines: false,
  },
  {
    name: 'accepted_events',
    version: 1,
    description:
      'Events the quality gate accepted, per minute and event type. Both layers count them, so the ' +
      'serving layer sees where the speed view holds late events the batch view has not read yet.',
    eventTypes: [...EVENT_TYPES],
    grain: 'minute',
    dimensions: [{ name: 'event_type', column: 'event_type' }],
    measures: [{ name: 'events', kind: 'count' }],
    explodesLines: false,
  },
]);

/** The metric both layers count every accepted event in: the merge compares them per hour. */
export const ACCEPTED_EVENTS = 'accepted_events';

export function getMetric(name: string, catalog: Catalog = CATALOG): Metric {
  const metric = catalog.find((m) => m.name === name);
  if (!metric) throw new Error(`unknown metric "${name}"; known: ${catalog.map((m) => m.name).join(', ')}`);
  return metric;
}
