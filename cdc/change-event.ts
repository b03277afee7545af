// A Debezium change event of the inventory table (JSON converter, no schemas) to the platform's
// `inventory.update` event. The mapping is a function of the change alone: a change the connector
// sends twice (it restarts from its last flushed offset) becomes the same event with the same
// eventId, which the gate's duplicate check drops, so every row change counts once.
import { createHash } from 'node:crypto';
import { CURRENT_VERSIONS, type InventoryUpdateEvent } from '../contracts/index.ts';

/** The columns of the captured table that the event reads; other columns are ignored. */
interface InventoryRow {
  location_id?: unknown;
  product_id?: unknown;
  on_hand?: unknown;
  updated_at?: unknown;
}

interface ChangeEvent {
  op?: unknown;
  before?: InventoryRow | null;
  after?: InventoryRow | null;
  source?: { name?: unknown; lsn?: unknown; txId?: unknown; ts_ms?: unknown };
}

/** What goes to the events topic: keyed by location, so one location's changes stay in order. */
export interface BridgedRecord {
  key: string | null;
  value: Buffer;
}

// RFC 4122 name-based (v5) ids in a namespace of our own: equal changes give equal ids.
const NAMESPACE = Buffer.from('6f1c1d2e4a7b4d3c9e2f0a1b2c3d4e5f', 'hex');

function uuidV5(name: string): string {
  const hash = createHash('sha1').update(NAMESPACE).update(name).digest();
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50;
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const locationType = (id: unknown) => (typeof id === 'string' && id.startsWith('FC') ? 'fc' : 'store');

/** `on_hand` as the contract reads it; a value of another type goes through for the gate to refuse. */
const onHandOf = (row: InventoryRow | null | undefined): number =>
  typeof row?.on_hand === 'number' ? row.on_hand : 0;

/**
 * The event of one change, or undefined for a message that is not a row change (a tombstone).
 * A create or snapshot read stocks `on_hand` (delta = on_hand), an update moves it by the
 * difference (the table's replica identity is FULL, so `before` is there), and a delete leaves the
 * location without the product (on hand 0).
 */
export function inventoryEventOf(change: ChangeEvent, key: string): InventoryUpdateEvent | undefined {
  const { op, before, after, source } = change;
  if (op !== 'c' && op !== 'r' && op !== 'u' && op !== 'd') return undefined;
  const row = (op === 'd' ? before : after) ?? {};
  const onHand = op === 'd' ? 0 : onHandOf(after);
  const delta = op === 'c' || op === 'r' ? onHand : onHand - onHandOf(before);
  const changedAt =
    op !== 'd' && typeof row.updated_at === 'string'
      ? row.updated_at
      : new Date(typeof source?.ts_ms === 'number' ? source.ts_ms : 0).toISOString();
  const connector = String(source?.name ?? 'cdc');
  return {
    eventId: uuidV5(`${connector}/${String(source?.lsn)}/${String(source?.txId)}/${op}/${key}`),
    eventType: 'inventory.update',
    eventTime: changedAt,
    userId: 'cdc',
    sessionId: connector.slice(0, 64),
    payload: {
      locationId: row.location_id as string,
      locationType: locationType(row.location_id),
      productId: row.product_id as string,
      onHand,
      delta,
    },
    metadata: {
      source: `cdc:${connector}`.slice(0, 128),
      schemaVersion: CURRENT_VERSIONS['inventory.update'],
    },
  };
}

/**
 * One message of the connector's topic to what the bridge produces. A message that does not parse
 * as a change goes on as it is, so the gate quarantines it with its reason rather than it being
 * lost; a tombstone (no value) is not a change and gives nothing.
 */
export function bridgeRecord(key: Buffer | null, value: Buffer | null): BridgedRecord | undefined {
  if (value === null) return undefined;
  let change: unknown;
  try {
    change = JSON.parse(value.toString('utf8'));
  } catch {
    return { key: null, value };
  }
  if (change === null || typeof change !== 'object') return { key: null, value };
  const event = inventoryEventOf(change as ChangeEvent, key?.toString('utf8') ?? '');
  if (event === undefined) return { key: null, value };
  const location = event.payload.locationId;
  return { key: typeof location === 'string' ? location : null, value: Buffer.from(JSON.stringify(event)) };
}
