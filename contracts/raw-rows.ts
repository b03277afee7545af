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

// Date parsing and formatting cost about a microsecond per event, a large share of building rows.
// Neighbouring events share their second, so the canonical `YYYY-MM-DDTHH:MM:SS.mmmZ` form reuses
// the converted second and appends the milliseconds: the same text as toSqlTimestamp (the second's
// own conversion normalises exactly as the whole string's would, milliseconds cannot carry).
const CANONICAL_LENGTH = 24;
const SECOND_LENGTH = 19;
let cachedSecond: string | undefined;
let cachedSqlSecond = '';

function eventSqlTimestamp(isoTime: string): string {
  if (
    isoTime.length !== CANONICAL_LENGTH ||
    isoTime.charCodeAt(SECOND_LENGTH) !== 46 ||
    isoTime.charCodeAt(CANONICAL_LENGTH - 1) !== 90
  )
    return toSqlTimestamp(isoTime);
  if (cachedSecond === undefined || !isoTime.startsWith(cachedSecond)) {
    cachedSecond = isoTime.slice(0, SECOND_LENGTH);
    cachedSqlSecond = toSqlTimestamp(`${cachedSecond}.000Z`).slice(0, SECOND_LENGTH);
  }
  return `${cachedSqlSecond}${isoTime.slice(SECOND_LENGTH, CANONICAL_LENGTH - 1)}`;
}

/**
 * Sets every column of `row` to its "not applicable" value, and the event's own columns. Rows are
 * built by assigning to one object literal's fields rather than by spreading partial objects: every
 * row then shares one object shape, and a writer that reuses one row (eachRawRow) allocates nothing
 * per row (building rows is a large share of the consumers' time per event).
 */
function resetRow(row: RawRow, event: TidewaterEvent, eventTime: string): RawRow {
  row.event_id = event.eventId;
  row.event_type = event.eventType;
  row.event_time = eventTime;
  row.user_id = event.userId;
  row.session_id = event.sessionId;
  row.line_index = 0;
  row.region = '';
  row.store_id = '';
  row.channel = '';
  row.currency = '';
  row.order_id = '';
  row.order_units = 0;
  row.total_minor = 0;
  row.product_id = '';
  row.category = '';
  row.quantity = 0;
  row.unit_price_minor = 0;
  row.line_revenue_minor = 0;
  row.page_type = '';
  row.location_id = '';
  row.location_type = '';
  row.on_hand = 0;
  row.delta = 0;
  row.stock_out = false;
  row.card_fingerprint = '';
  row.ip_hash = '';
  row.amount_minor = 0;
  row.success = false;
  row.decline_code = '';
  row.rating = 0;
  return row;
}

/** A row object for eachRawRow to fill. */
export function emptyRawRow(): RawRow {
  return {
    event_id: '',
    event_type: '',
    event_time: '',
    user_id: '',
    session_id: '',
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
function setProduct(row: RawRow, dims: DimensionIndex, productId: string | undefined): void {
  if (productId === undefined) return;
  row.product_id = productId;
  row.category = dims.categoryByProduct.get(productId) ?? '';
}

function setLine(row: RawRow, dims: DimensionIndex, line: OrderLine): void {
  setProduct(row, dims, line.productId);
  row.quantity = line.quantity;
  row.unit_price_minor = line.unitPriceMinor;
  row.line_revenue_minor = line.quantity * line.unitPriceMinor;
}

/**
 * Flattens and enriches one valid event into raw rows (orders: one row per line, in line order),
 * handing each to `emit` in `row`, which is filled anew for every row: copy it to keep it.
 */
export function eachRawRow(
  event: TidewaterEvent,
  dims: DimensionIndex,
  emit: (row: RawRow) => void,
  row: RawRow = emptyRawRow(),
): void {
  const eventTime = eventSqlTimestamp(event.eventTime);
  switch (event.eventType) {
    case 'order.created':
    case 'order.completed':
    case 'order.cancelled': {
      const { payload } = event;
      let orderUnits = 0;
      for (const line of payload.lines) orderUnits += line.quantity;
      for (let index = 0; index < payload.lines.length; index++) {
        resetRow(row, event, eventTime);
        row.line_index = index;
        row.region = payload.region;
        row.store_id = payload.storeId;
        row.channel = payload.channel;
        row.currency = payload.currency;
        row.order_id = payload.orderId;
        row.order_units = orderUnits;
        row.total_minor = payload.totalMinor;
        setLine(row, dims, payload.lines[index] as OrderLine);
        emit(row);
      }
      return;
    }
    case 'page.view':
      resetRow(row, event, eventTime);
      setProduct(row, dims, event.payload.productId);
      row.page_type = event.payload.pageType;
      break;
    case 'product.click':
      resetRow(row, event, eventTime);
      setProduct(row, dims, event.payload.productId);
      break;
    case 'cart.add':
    case 'cart.remove':
      resetRow(row, event, eventTime);
      setLine(row, dims, event.payload);
      break;
    case 'inventory.update': {
      const { payload } = event;
      resetRow(row, event, eventTime);
      setProduct(row, dims, payload.productId);
      row.region = dims.regionByLocation.get(payload.locationId) ?? '';
      row.location_id = payload.locationId;
      row.location_type = payload.locationType;
      row.on_hand = payload.onHand;
      row.delta = payload.delta;
      row.stock_out = payload.onHand === 0;
      break;
    }
    case 'payment.attempted': {
      const { payload } = event;
      resetRow(row, event, eventTime);
      row.order_id = payload.orderId ?? '';
      row.card_fingerprint = payload.cardFingerprint;
      row.ip_hash = payload.ipHash;
      row.amount_minor = payload.amountMinor;
      row.currency = payload.currency;
      row.success = payload.success;
      row.decline_code = payload.declineCode ?? '';
      break;
    }
    case 'feedback.submitted':
      resetRow(row, event, eventTime);
      setProduct(row, dims, event.payload.productId);
      row.rating = event.payload.rating;
      break;
    default:
      // The gate lets only contract types through; a type without rows here is a gap in this switch.
      throw new Error(`no raw rows for event type ${(event as TidewaterEvent).eventType}`);
  }
  emit(row);
}

/** The raw rows of one valid event, each an object of its own (see eachRawRow). */
export function toRawRows(event: TidewaterEvent, dims: DimensionIndex): RawRow[] {
  const rows: RawRow[] = [];
  eachRawRow(event, dims, (row) => rows.push({ ...row }));
  return rows;
}
