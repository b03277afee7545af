// Change data capture: rows of the PostgreSQL inventory table, changed by SQL, reach the speed view
// (ClickHouse, through the API) and the lake as `inventory.update` events through the gate, each
// change exactly once, while the Kafka Connect worker is killed and started again and while the
// table gains a nullable column. Needs `services up` (Kafka, and CDC on the PostgreSQL it finds).
import { randomInt } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bridgeRecord, inventoryEventOf } from '../cdc/index.ts';
import { type Platform, startPlatform } from '../cli/platform.ts';
import { loadConfig } from '../config/index.ts';
import { buildDimensions } from '../contracts/index.ts';
import { openDuck } from '../duckdb/index.ts';
import { createKafka } from '../kafka/index.ts';
import { EVENTS_SCHEMA, lakeTableDir, openTable } from '../lake/index.ts';
import { createGate, decodeQuarantine } from '../quality/index.ts';
import { cdcUp, cdcWorkerPid, connectorRuns } from '../scripts/services/index.ts';
import { databaseOf } from '../scripts/services/postgres.ts';
import { isolation } from './support/isolation.ts';
import { readToEnd } from './support/kafka.ts';
import { waitForCatchUp } from './support/speed.ts';

const source = { name: 'tidewater-inventory', lsn: 35304752, txId: 730, ts_ms: 1796354954702 };
const row = (onHand: number, extra: Record<string, unknown> = {}) => ({
  location_id: 'S0001',
  product_id: 'P000001',
  on_hand: onHand,
  updated_at: '2026-12-04T03:29:14.693262Z',
  ...extra,
});
const key = JSON.stringify({ location_id: 'S0001', product_id: 'P000001' });

describe('change events to inventory.update events', () => {
  it('maps inserts, updates and deletes to on-hand values and deltas the gate accepts', () => {
    const inserted = inventoryEventOf({ op: 'c', before: null, after: row(5), source }, key);
    const updated = inventoryEventOf({ op: 'u', before: row(5), after: row(3), source }, key);
    const deleted = inventoryEventOf({ op: 'd', before: row(3), after: null, source }, key);
    expect(inserted?.payload).toMatchObject({
      locationId: 'S0001',
      locationType: 'store',
      onHand: 5,
      delta: 5,
    });
    expect(updated?.payload).toMatchObject({ onHand: 3, delta: -2 });
    expect(deleted?.payload).toMatchObject({ onHand: 0, delta: -3 });
    expect(deleted?.eventTime).toBe(new Date(source.ts_ms).toISOString());
    const gate = createGate({ now: () => Date.parse('2026-12-04T03:30:00Z') });
    const records = [inserted, updated, deleted].map((event, i) => ({
      topic: 't',
      partition: 0,
      offset: String(i),
      key: Buffer.from('S0001'),
      value: Buffer.from(JSON.stringify(event)),
      timestamp: Date.parse('2026-12-04T03:30:00Z'),
    }));
    const result = gate.run(records);
    expect(result.rejected.map((r) => r.failures)).toEqual([]);
    expect(result.accepted).toHaveLength(3);
  });

  it('gives a change sent twice the same eventId, and ignores columns it does not read', () => {
    const change = { op: 'u', before: row(5), after: row(4, { note: 'recount' }), source };
    const first = bridgeRecord(Buffer.from(key), Buffer.from(JSON.stringify(change)));
    const again = bridgeRecord(Buffer.from(key), Buffer.from(JSON.stringify({ ...change, after: row(4) })));
    expect(first?.key).toBe('S0001');
    expect(first?.value.equals(again?.value as Buffer)).toBe(true);
    const other = bridgeRecord(
      Buffer.from(key),
      Buffer.from(JSON.stringify({ ...change, source: { ...source, lsn: 1 } })),
    );
    expect(JSON.parse(String(other?.value)).eventId).not.toBe(JSON.parse(String(first?.value)).eventId);
  });

  it('passes what is not a change on to the gate, which quarantines it, and skips tombstones', () => {
    const garbage = bridgeRecord(null, Buffer.from('{"op":'));
    expect(garbage).toEqual({ key: null, value: Buffer.from('{"op":') });
    expect(bridgeRecord(Buffer.from(key), null)).toBeUndefined();
    const gate = createGate();
    const result = gate.run([
      {
        topic: 't',
        partition: 0,
        offset: '0',
        key: null,
        value: garbage?.value ?? null,
        timestamp: Date.now(),
      },
    ]);
    expect(result.rejected[0]?.failures[0]?.ruleId).toBe('decode');
  });
});

const isolated = isolation('cdc');

describe('change data capture from PostgreSQL', () => {
  const base = loadConfig();
  const [schema, table] = base.cdcTable.split('.') as [string, string];
  const name = `"${schema}"."${table}"`;
  const dims = buildDimensions();
  // Rows of this run only: distinct stores, one product, all existing in the dimensions.
  const first = randomInt(0, dims.stores.length - 5);
  const stores = dims.stores.slice(first, first + 5).map((s) => s.storeId);
  const product = (dims.products[randomInt(0, dims.products.length)] as { productId: string }).productId;
  const db = new pg.Client(databaseOf(base.cdcDatabaseUrl));
  let platform: Platform;
  let cfg: ReturnType<typeof loadConfig>;
  const started = Date.now();

  // A change's event time is its row's updated_at, which the views keep to the millisecond: of two
  // changes of a row in one millisecond, `latest_on_hand` takes the one with the greater event id
  // (README, the metric catalog), not necessarily the later one. The test's changes are spaced so
  // that its latest value is the last change's.
  const exec = async (sql: string, values: unknown[] = []) => {
    const result = await db.query(sql, values);
    await new Promise((resolve) => setTimeout(resolve, 3));
    return result;
  };
  const insert = (store: string, onHand: number) =>
    exec(`INSERT INTO ${name} (location_id, product_id, on_hand) VALUES ($1, $2, $3)`, [
      store,
      product,
      onHand,
    ]);
  const update = (store: string, onHand: number) =>
    exec(`UPDATE ${name} SET on_hand = $3, updated_at = now() WHERE location_id = $1 AND product_id = $2`, [
      store,
      product,
      onHand,
    ]);

  beforeAll(async () => {
    // Started by `services up`; started here too when it is not (idempotent).
    await cdcUp(base, () => {});
    await db.connect();
    await exec(`DELETE FROM ${name} WHERE product_id = $1 AND location_id = ANY($2)`, [product, stores]);
    const env = await isolated('platform');
    cfg = {
      ...env.cfg,
      apiPort: 0,
      auth: false,
      queuePrefix: `cdc-${env.groupId}`,
      speedGroup: `${env.groupId}-speed`,
      lakeGroup: `${env.groupId}-lake`,
      cdcGroup: `${env.groupId}-cdc`,
      lakeCommitSeconds: 1,
    };
    platform = await startPlatform(cfg, {
      roles: ['speed', 'lake', 'serve', 'cdc'],
      demo: false,
      log: () => {},
    });
  }, 180_000);

  afterAll(async () => {
    await platform?.stop();
    await exec(`DELETE FROM ${name} WHERE product_id = $1 AND location_id = ANY($2)`, [
      product,
      stores,
    ]).catch(() => undefined);
    await exec(`ALTER TABLE ${name} DROP COLUMN IF EXISTS note`).catch(() => undefined);
    await db.end();
  });

  /** Updates per store of this run's product in the speed view, summed over minutes, and the latest on hand. */
  async function speedView() {
    const from = new Date(started - 120_000).toISOString();
    const to = new Date(Date.now() + 120_000).toISOString();
    const res = await fetch(
      `${platform.url}/v1/metrics/inventory?from=${from}&to=${to}&groupBy=location_id,product_id`,
    );
    const body = (await res.json()) as { rows: Record<string, string | number>[] };
    const view: Record<string, { updates: number; onHand: number; minute: string }> = {};
    for (const r of body.rows) {
      if (r.product_id !== product || !stores.includes(String(r.location_id))) continue;
      const store = String(r.location_id);
      const cell = view[store] ?? { updates: 0, onHand: -1, minute: '' };
      view[store] = cell;
      cell.updates += Number(r.updates);
      const minute = String(r.time);
      if (minute >= cell.minute) {
        cell.minute = minute;
        cell.onHand = Number(r.latest_on_hand);
      }
    }
    return Object.fromEntries(
      Object.entries(view).map(([k, v]) => [k, { updates: v.updates, onHand: v.onHand }]),
    );
  }

  async function lakeView() {
    const events = await openTable(lakeTableDir(cfg.dataDir), EVENTS_SCHEMA);
    const duck = await openDuck();
    try {
      const reader = await duck.connection.runAndReadAll(
        `SELECT location_id, count(*) AS n, count(DISTINCT event_id) AS ids FROM ${events.readSql(await events.refresh())}
         WHERE event_type = 'inventory.update' AND product_id = '${product}' GROUP BY location_id`,
      );
      return Object.fromEntries(
        (reader.getRowObjects() as { location_id: string; n: bigint; ids: bigint }[]).map((r) => [
          r.location_id,
          { events: Number(r.n), ids: Number(r.ids) },
        ]),
      );
    } finally {
      duck.close();
    }
  }

  async function eventually<T>(read: () => Promise<T>, expected: T, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last = await read();
    while (!isDeepStrictEqual(last, expected) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1_000));
      last = await read();
    }
    return last;
  }

  it('carries inserts, updates and deletes once each, across a killed connector and a new column', async () => {
    const [a, b, c, d, bad] = stores as [string, string, string, string, string];
    await insert(a, 5);
    await update(a, 2);
    await update(a, 0);
    await exec(`DELETE FROM ${name} WHERE location_id = $1 AND product_id = $2`, [a, product]);
    await insert(b, 7);
    // The stock-out reaches the speed view within seconds.
    const early = await eventually(
      speedView,
      { [a]: { updates: 4, onHand: 0 }, [b]: { updates: 1, onHand: 7 } },
      60_000,
    );
    expect(early).toEqual({ [a]: { updates: 4, onHand: 0 }, [b]: { updates: 1, onHand: 7 } });

    // Killed without warning: changes made meanwhile wait in the replication slot.
    const pid = cdcWorkerPid(base);
    expect(pid).toBeDefined();
    process.kill(pid as number, 'SIGKILL');
    await update(b, 6);
    await insert(c, 3);
    expect(await connectorRuns(base)).toBe(false);
    const restarted = await cdcUp(base, () => {});
    expect(restarted.state).toBe('started');
    await update(b, 4);

    await exec(`ALTER TABLE ${name} ADD COLUMN IF NOT EXISTS note text`);
    await exec(
      `INSERT INTO ${name} (location_id, product_id, on_hand, note) VALUES ($1, $2, 9, 'new shelf')`,
      [d, product],
    );
    await update(d, 8);
    // Against the contract (on hand below 0): quarantined, not counted.
    await insert(bad, -2);

    const expected = {
      [a]: { updates: 4, onHand: 0 },
      [b]: { updates: 3, onHand: 4 },
      [c]: { updates: 1, onHand: 3 },
      [d]: { updates: 2, onHand: 8 },
    };
    expect(await eventually(speedView, expected, 90_000)).toEqual(expected);

    const kafka = createKafka(cfg, 'cdc-test');
    await waitForCatchUp(kafka, cfg.lakeGroup, cfg.eventsTopic, 90_000);
    const lake = {
      [a]: { events: 4, ids: 4 },
      [b]: { events: 3, ids: 3 },
      [c]: { events: 1, ids: 1 },
      [d]: { events: 2, ids: 2 },
    };
    expect(await eventually(lakeView, lake, 60_000)).toEqual(lake);

    const quarantined = (await readToEnd(kafka, cfg.quarantineTopic))
      .map((m) => decodeQuarantine(m.value))
      .filter((r) =>
        String(r.source.value).includes(
          `"locationId":"${bad}","locationType":"store","productId":"${product}"`,
        ),
      );
    expect(quarantined.map((r) => r.failures.map((f) => `${f.ruleId}: ${f.message}`))).toEqual([
      [expect.stringMatching(/^contract: payload\.onHand: /)],
    ]);
  }, 300_000);
});
