// The flattened raw event row both layers aggregate: one row per event, except orders, which
// give one row per order line so that line-level metrics (by category) are plain aggregates.
// Every row carries every column; '' / 0 / false mean "not applicable to this event type".
import type { Dimensions } from './dimensions.ts';
import type { OrderLine, TidewaterEvent } from './events.ts';

/** Engine-neutral column types; each SQL dialect names them. */
export type LogicalType = 'uuid' | 'string' | 'label' | 'int64' | 'uint64' | 'bool' | 'timestamp' | 'minute';

/**
 * Which rows of one order a value differs across:
 * - `event`: the same on every row of the event;
 * - `order`: an order-level total repeated on every line row, so only line 0 may be summed;
 * - `line`: varies by order line (for non-order events the row is the event's only "line").
 */
export type ColumnGrain = 'event' | 'order' | 'line';

const column = <T extends LogicalType>(type: T, grain: ColumnGrain = 'event') => ({ type, grain });

/** The raw table's columns, in table order. `label` is a low-cardinality string. */
export const RAW_COLUMNS = {
  event_id: column('uuid'),
  event_type: column('label'),
  event_time: column('timestamp'),
  user_id: column('string'),
  session_id: column('string'),
  line_index: column('int64', 'line'),
  region: column('label'),
  store_id: column('string'),
  channel: column('label'),
  currency: column('label'),
  order_id: column('string'),
  /** Sum of line quantities of the whole order. */
  order_units: column('int64', 'order'),
  total_minor: column('int64', 'order'),
  product_id: column('string', 'line'),
  category: column('label', 'line'),
  quantity: column('int64', 'line'),
  unit_price_minor: column('int64', 'line'),
  /** quantity × unit price of one line (or of one cart change). */
  line_revenue_minor: column('int64', 'line'),
  page_type: column('label'),
  location_id: column('string'),
  location_type: column('label'),
  on_hand: column('int64'),
  delta: column('int64'),
  stock_out: column('bool'),
  card_fingerprint: column('string'),
  ip_hash: column('string'),
  amount_minor: column('int64'),
  success: column('bool'),
  decline_code: column('string'),
  rating: column('int64'),
} as const;

export type RawColumnName = keyof typeof RAW_COLUMNS;
export const RAW_COLUMN_NAMES = Object.keys(RAW_COLUMNS) as RawColumnName[];

type TsType<T extends LogicalType> = T extends 'int64' | 'uint64'
  ? number
  : T extends 'bool'
    ? boolean
    : string;

/**
 * One raw row as JSONEachRow / read_json input. Integers are JS numbers: every source value is a
 * JSON number already, and per-row products stay far below 2^53.
 */
export type RawRow = { [K in RawColumnName]: TsType<(typeof RAW_COLUMNS)[K]['type']> };

/** Lookups the enrichment needs, built once from the dimension tables. */
export interface DimensionIndex {
  categoryByProduct: ReadonlyMap<string, string>;
  regionByLocation: ReadonlyMap<string, string>;
}

export function indexDimensions(dims: Dimensions): DimensionIndex {
  return {
    categoryByProduct: new Map(dims.products.map((p) => [p.productId, p.category])),
    regionByLocation: new Map([
      ...dims.stores.map((s) => [s.storeId, s.region] as const),
      ...dims.fulfilmentCentres.map((fc) => [fc.fulfilmentCentreId, fc.region] as const),
    ]),
  };
}

/**
 * `2025-01-01 00:03:07.250`: UTC with milliseconds, the text both ClickHouse DateTime64(3) and
 * DuckDB TIMESTAMP parse without settings. Offsets are normalised to UTC here.
 */
export function toSqlTimestamp(isoTime: string): string {
  return new Date(isoTime).toISOString().replace('T', ' ').replace('Z', '');
}

function baseRow(event: TidewaterEvent): RawRow {
  return {
    event_id: event.eventId,
    event_type: event.eventType,
    event_time: toSqlTimestamp(event.eventTime),
    user_id: event.userId,
    session_id: event.sessionId,
    line_index: 0,
    region: '',
    store_id: '',
    channel: '',
    currency: '',
    order_id: '',
    order_units: 0,
    total_minor: 0,
    product_id: '',
    category: '',
    quantity: 0,
    unit_price_minor: 0,
    line_revenue_minor: 0,
    page_type: '',
    location_id: '',
    location_type: '',
    on_hand: 0,
    delta: 0,
    stock_out: false,
    card_fingerprint: '',
    ip_hash: '',
    amount_minor: 0,
    success: false,
    decline_code: '',
    rating: 0,
  };
}

/** Product columns of a row; an unknown product gets category '' (referential checks are the gate's job). */
function productColumns(dims: DimensionIndex, productId: string | undefined) {
  return productId === undefined
    ? {}
    : { product_id: productId, category: dims.categoryByProduct.get(productId) ?? '' };
}

function lineColumns(dims: DimensionIndex, line: OrderLine) {
  return {
    ...productColumns(dims, line.productId),
    quantity: line.quantity,
    unit_price_minor: line.unitPriceMinor,
    line_revenue_minor: line.quantity * line.unitPriceMinor,
  };
}

/** Flattens and enriches one valid event into raw rows (orders: one row per line, in line order). */
export function toRawRows(event: TidewaterEvent, dims: DimensionIndex): RawRow[] {
  const base = baseRow(event);
  switch (event.eventType) {
    case 'order.created':
    case 'order.completed':
    case 'order.cancelled': {
      const { payload } = event;
      const order = {
        region: payload.region,
        store_id: payload.storeId,
        channel: payload.channel,
        currency: payload.currency,
        order_id: payload.orderId,
        order_units: payload.lines.reduce((sum, line) => sum + line.quantity, 0),
        total_minor: payload.totalMinor,
      };
      return payload.lines.map((line, index) => ({
        ...base,
        ...order,
        ...lineColumns(dims, line),
        line_index: index,
      }));
    }
    case 'page.view':
      return [
        { ...base, ...productColumns(dims, event.payload.productId), page_type: event.payload.pageType },
      ];
    case 'product.click':
      return [{ ...base, ...productColumns(dims, event.payload.productId) }];
    case 'cart.add':
    case 'cart.remove':
      return [{ ...base, ...lineColumns(dims, event.payload) }];
    case 'inventory.update': {
      const { payload } = event;
      return [
        {
          ...base,
          ...productColumns(dims, payload.productId),
          region: dims.regionByLocation.get(payload.locationId) ?? '',
          location_id: payload.locationId,
          location_type: payload.locationType,
          on_hand: payload.onHand,
          delta: payload.delta,
          stock_out: payload.onHand === 0,
        },
      ];
    }
    case 'payment.attempted': {
      const { payload } = event;
      return [
        {
          ...base,
          order_id: payload.orderId ?? '',
          card_fingerprint: payload.cardFingerprint,
          ip_hash: payload.ipHash,
          amount_minor: payload.amountMinor,
          currency: payload.currency,
          success: payload.success,
          decline_code: payload.declineCode ?? '',
        },
      ];
    }
    case 'feedback.submitted':
      return [{ ...base, ...productColumns(dims, event.payload.productId), rating: event.payload.rating }];
  }
}
