// The events table's rows, flattened by DuckDB from the events' JSON in one set-based statement.
// This is the SQL twin of contracts' toRawRows (which the speed layer runs in JS): a per-row JS
// object handed to DuckDB value by value costs several times more than the whole statement here.
// test/lake-events.test.ts holds the two to exactly the same rows; change both together.
//
// DuckDB reads each record's original bytes (handed over as they are, no JS string made), which
// are also the `event` column. Where the bytes do not spell exactly the gate's validated event (a
// repeated key, where JSON.parse keeps the last value and DuckDB the first, or a stripped key; see
// contracts/verbatim.ts) DuckDB reads that event re-serialized instead. Offsets travel as DOUBLE (no
// BigInt per value), exact below 2^53.
import { DuckDBBlobValue, type DuckDBConnection } from '@duckdb/node-api';
import { type DimensionIndex, spellsExactly } from '../contracts/index.ts';
import { sqlString } from '../duckdb/index.ts';
import type { AcceptedRecord } from '../quality/index.ts';
import { EVENTS_SCHEMA } from './events.ts';
import { appendRows, ident } from './parquet/stage.ts';
import { instantFromMs } from './schema.ts';
import type { Stage } from './table.ts';

const STAGE_TABLE = 'lake_events_stage';
const CATEGORY_TABLE = 'lake_dim_category';
const REGION_TABLE = 'lake_dim_region';

/**
 * The JSON fields toRawRows reads (but the event time, staged apart), as json_transform's
 * structure; absent fields become NULL.
 */
const EVENT_STRUCTURE = JSON.stringify({
  eventId: 'VARCHAR',
  eventType: 'VARCHAR',
  userId: 'VARCHAR',
  sessionId: 'VARCHAR',
  payload: {
    orderId: 'VARCHAR',
    storeId: 'VARCHAR',
    region: 'VARCHAR',
    channel: 'VARCHAR',
    currency: 'VARCHAR',
    lines: [{ productId: 'VARCHAR', quantity: 'BIGINT', unitPriceMinor: 'BIGINT' }],
    totalMinor: 'BIGINT',
    pageType: 'VARCHAR',
    productId: 'VARCHAR',
    quantity: 'BIGINT',
    unitPriceMinor: 'BIGINT',
    locationId: 'VARCHAR',
    locationType: 'VARCHAR',
    onHand: 'BIGINT',
    delta: 'BIGINT',
    cardFingerprint: 'VARCHAR',
    ipHash: 'VARCHAR',
    amountMinor: 'BIGINT',
    success: 'BOOLEAN',
    declineCode: 'VARCHAR',
    rating: 'BIGINT',
  },
});

const typeIn = (...types: string[]) => `t IN (${types.map(sqlString).join(', ')})`;
const ORDER = typeIn('order.created', 'order.completed', 'order.cancelled');
const CART = typeIn('cart.add', 'cart.remove');
const INVENTORY = typeIn('inventory.update');
const PAYMENT = typeIn('payment.attempted');
/** Only for `t`'s types, else the raw-row default ('' / 0 / false). */
const only = (when: string, value: string, otherwise = "''") =>
  `CASE WHEN ${when} THEN ${value} ELSE ${otherwise} END`;

/**
 * The event time as the gate parsed it (JS Date's reading, as toRawRows: UTC, milliseconds
 * truncated), staged beside the JSON so that the batch's partitions are known without parsing it.
 */
const EVENT_TIME = instantFromMs('event_ms');

/**
 * Each events-table column from the flattened line rows: `t` event type, `p` payload, `li` line
 * index, `pid` / `qty` / `upm` the product, quantity and unit price of the line (or of the payload).
 */
const COLUMNS: Record<string, string> = {
  event_id: 'e.eventId',
  event_type: 't',
  event_time: 'event_time',
  user_id: 'e.userId',
  session_id: 'e.sessionId',
  line_index: 'CAST(li AS BIGINT)',
  region: `CASE WHEN ${ORDER} THEN p.region WHEN ${INVENTORY} THEN coalesce(dr.region, '') ELSE '' END`,
  store_id: only(ORDER, 'p.storeId'),
  channel: only(ORDER, 'p.channel'),
  currency: only(`${ORDER} OR ${PAYMENT}`, 'p.currency'),
  order_id: only(`${ORDER} OR ${PAYMENT}`, "coalesce(p.orderId, '')"),
  order_units: only(ORDER, 'CAST(list_sum([l.quantity FOR l IN p.lines]) AS BIGINT)', '0'),
  total_minor: only(ORDER, 'p.totalMinor', '0'),
  product_id: "coalesce(pid, '')",
  category: `CASE WHEN pid IS NULL THEN '' ELSE coalesce(dc.category, '') END`,
  quantity: 'coalesce(qty, 0)',
  unit_price_minor: 'coalesce(upm, 0)',
  line_revenue_minor: 'coalesce(qty * upm, 0)',
  page_type: only(typeIn('page.view'), 'p.pageType'),
  location_id: only(INVENTORY, 'p.locationId'),
  location_type: only(INVENTORY, 'p.locationType'),
  on_hand: only(INVENTORY, 'p.onHand', '0'),
  delta: only(INVENTORY, 'p.delta', '0'),
  stock_out: only(INVENTORY, 'p.onHand = 0', 'false'),
  card_fingerprint: only(PAYMENT, 'p.cardFingerprint'),
  ip_hash: only(PAYMENT, 'p.ipHash'),
  amount_minor: only(PAYMENT, 'p.amountMinor', '0'),
  success: only(PAYMENT, 'p.success', 'false'),
  decline_code: only(PAYMENT, "coalesce(p.declineCode, '')"),
  rating: only(typeIn('feedback.submitted'), 'p.rating', '0'),
  source_partition: 'source_partition',
  source_offset: 'CAST(source_offset AS BIGINT)',
  event: 'CASE WHEN li = 0 THEN original END',
};

const lines = `CASE WHEN ${ORDER} THEN p.lines ELSE [NULL] END`;

const FLATTEN_SQL = `WITH staged AS (
  SELECT source_partition, source_offset, ${EVENT_TIME} AS event_time, decode(original) AS original, canonical
  FROM ${STAGE_TABLE}
), parsed AS (
  SELECT source_partition, source_offset, event_time, original, e, e.eventType AS t, e.payload AS p
  FROM (SELECT *, json_transform(coalesce(canonical, original), ${sqlString(EVENT_STRUCTURE)}) AS e FROM staged)
), line_rows AS (
  SELECT *, unnest(${lines}) AS line, generate_subscripts(${lines}, 1) - 1 AS li FROM parsed
), product_rows AS (
  SELECT *,
    CASE WHEN ${ORDER} THEN line.productId
         WHEN ${typeIn('page.view', 'product.click', 'cart.add', 'cart.remove', 'inventory.update', 'feedback.submitted')}
         THEN p.productId END AS pid,
    CASE WHEN ${ORDER} THEN line.quantity WHEN ${CART} THEN p.quantity END AS qty,
    CASE WHEN ${ORDER} THEN line.unitPriceMinor WHEN ${CART} THEN p.unitPriceMinor END AS upm
  FROM line_rows
)
SELECT ${EVENTS_SCHEMA.columns
  .map((c) => {
    const sql = COLUMNS[c.name];
    if (sql === undefined) throw new Error(`event-rows: no SQL for column ${c.name}`);
    return `${sql} AS ${ident(c.name)}`;
  })
  .join(',\n  ')}
FROM product_rows
-- Equalities only, so both stay hash joins (a condition on t made the region one a nested loop).
LEFT JOIN ${CATEGORY_TABLE} dc ON dc.id = pid
LEFT JOIN ${REGION_TABLE} dr ON dr.id = CASE WHEN ${INVENTORY} THEN p.locationId END`;

/** The dimension lookups each connection holds, so they load once, not per batch. */
const loadedDimensions = new WeakMap<DuckDBConnection, DimensionIndex>();

async function loadLookup(
  connection: DuckDBConnection,
  table: string,
  value: string,
  map: ReadonlyMap<string, string>,
) {
  await connection.run(`CREATE OR REPLACE TEMP TABLE ${table} (id VARCHAR PRIMARY KEY, ${value} VARCHAR)`);
  const appender = await connection.createAppender(table);
  for (const [k, v] of map) {
    appender.appendVarchar(k);
    appender.appendVarchar(v);
    appender.endRow();
  }
  appender.closeSync();
}

async function loadDimensions(connection: DuckDBConnection, dims: DimensionIndex): Promise<void> {
  if (loadedDimensions.get(connection) === dims) return;
  await loadLookup(connection, CATEGORY_TABLE, 'category', dims.categoryByProduct);
  await loadLookup(connection, REGION_TABLE, 'region', dims.regionByLocation);
  loadedDimensions.set(connection, dims);
}

/**
 * What DuckDB gets of a record: its bytes as the `event` text (the gate accepts UTF-8 JSON only),
 * and the validated event re-serialized where the bytes do not spell it exactly (worked out here
 * unless a verdict board already did).
 */
function staged(record: AcceptedRecord): { original: Buffer; canonical: string | null } {
  const bytes = record.source.value as Buffer;
  if (record.canonical !== undefined) return { original: bytes, canonical: record.canonical };
  const { event } = record;
  return { original: bytes, canonical: spellsExactly(bytes, event) ? null : JSON.stringify(event) };
}

/**
 * A batch of accepted records for `LakeTable.appendBatch`: loads each record's JSON into DuckDB
 * and returns the SELECT of their events-table rows (toRawRows' rows plus source and original
 * JSON), and of their event times for the partitions.
 */
export function stageAccepted(records: readonly AcceptedRecord[], dims: DimensionIndex): Stage {
  return async (connection) => {
    if (records.length === 0) return undefined;
    await loadDimensions(connection, dims);
    await connection.run(
      `CREATE OR REPLACE TEMP TABLE ${STAGE_TABLE} (source_partition INTEGER, source_offset DOUBLE, event_ms DOUBLE, original BLOB, canonical VARCHAR)`,
    );
    const json = records.map(staged);
    await appendRows(connection, STAGE_TABLE, records.length, (column, row) => {
      const { source, eventTimeMs } = records[row] as AcceptedRecord;
      if (column === 0) return source.partition;
      if (column === 1) return Number(source.offset);
      if (column === 2) return eventTimeMs;
      const { original, canonical } = json[row] as ReturnType<typeof staged>;
      return column === 3 ? new DuckDBBlobValue(original) : canonical;
    });
    // Every record gives at least one row (an order has at least one line), all at its event time.
    return { rows: FLATTEN_SQL, partitionKeys: `SELECT ${EVENT_TIME} AS event_time FROM ${STAGE_TABLE}` };
  };
}
