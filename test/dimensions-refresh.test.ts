// One set of dimensions serves every gate of a process: when the dimension files change, the speed
// layer and the lake writer both judge events by the new set, so the layers never disagree on a
// record (before, only the speed layer refreshed; the lake writer quarantined what speed counted).
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DIMENSION_FILES,
  type LiveDimensions,
  openPlatformDimensions,
  type Product,
} from '../contracts/index.ts';
import { openDuck } from '../duckdb/index.ts';
import { generate } from '../generator/index.ts';
import { BatchingProducer, createKafka } from '../kafka/index.ts';
import { EVENTS_SCHEMA, lakeTableDir, openTable, startLakeWriter } from '../lake/index.ts';
import { startSpeedLayer } from '../speed-layer/index.ts';
import { isolation } from './support/isolation.ts';
import { quarantinedSources } from './support/kafka.ts';
import { waitForCatchUp } from './support/speed.ts';

const isolated = isolation('dimensions-refresh');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Orders from the generator whose lines all name `productId`, as the bytes a producer sends. */
function ordersOf(productIds: readonly string[]): { key: string; value: Buffer }[] {
  const orders = [...generate({ seed: 7, count: 2_000, start: new Date().toISOString(), rate: 100 })].filter(
    (r) => r.kind === 'good' && r.event?.eventType === 'order.created',
  );
  return productIds.map((productId, i) => {
    const record = orders[i];
    if (!record) throw new Error('the generator made too few orders');
    const event = JSON.parse(record.value.toString()) as { payload: { lines: { productId: string }[] } };
    for (const line of event.payload.lines) line.productId = productId;
    return { key: record.key, value: Buffer.from(JSON.stringify(event)) };
  });
}

describe('dimensions shared by every gate of a process', () => {
  const opened: LiveDimensions[] = [];
  afterAll(() => {
    for (const live of opened) live.stop();
  });

  it('hands a changed file to every subscriber, and keeps the last good set when an edit is invalid', async () => {
    const { cfg } = await isolated('watch');
    const failures: Error[] = [];
    const live = await openPlatformDimensions(cfg.dataDir, 50, (error) => failures.push(error));
    opened.push(live);
    const seen: string[][] = [[], []];
    for (const ids of seen)
      live.subscribe(async (next) => void ids.push(next.products.at(-1)?.productId ?? ''));
    const products = join(cfg.dataDir, 'dimensions', DIMENSION_FILES.products);
    const added: Product = {
      productId: 'P999998',
      name: 'Copper kettle 100',
      category: 'kitchen',
      priceMinor: 4_500,
    };
    await appendFile(products, `${JSON.stringify(added)}\n`);
    await until('both subscribers got the new product', () => seen.every((ids) => ids.includes('P999998')));
    expect(live.current.products.at(-1)).toEqual(added);

    await writeFile(products, '{"productId": "not an id"}\n');
    await until('the invalid edit was reported', () => failures.length > 0);
    expect(live.current.products.at(-1)).toEqual(added);
    expect(seen.map((ids) => ids.length)).toEqual([1, 1]);
  });

  it('lets the speed layer and the lake writer accept alike an order of a product only the new files hold', async () => {
    const { cfg, groupId } = await isolated('layers');
    const failures: Error[] = [];
    const live = await openPlatformDimensions(cfg.dataDir, 100, (error) => failures.push(error));
    opened.push(live);
    const speedGroup = `${groupId}-speed`;
    const lakeGroup = `${groupId}-lake`;
    const speed = await startSpeedLayer(cfg, { dimensions: live, gateThreads: 0, groupId: speedGroup });
    const lake = await startLakeWriter(
      { ...cfg, lakeCommitSeconds: 0.2 },
      { dimensions: live, groupId: lakeGroup },
    );
    const kafka = createKafka(cfg, 'test');
    try {
      const added: Product = {
        productId: 'P999998',
        name: 'Copper kettle 100',
        category: 'kitchen',
        priceMinor: 4_500,
      };
      await appendFile(
        join(cfg.dataDir, 'dimensions', DIMENSION_FILES.products),
        `${JSON.stringify(added)}\n`,
      );
      await until('the process holds the new product', () =>
        live.current.products.some((p) => p.productId === added.productId),
      );
      // P999997 is in no file: both layers refuse it, and it is quarantined once.
      const producer = new BatchingProducer(kafka, { topic: cfg.eventsTopic });
      await producer.connect();
      for (const record of ordersOf(['P999998', 'P999998', 'P999997'])) await producer.push(record);
      await producer.disconnect();
      await Promise.all([
        waitForCatchUp(kafka, speedGroup, cfg.eventsTopic, 60_000),
        waitForCatchUp(kafka, lakeGroup, cfg.eventsTopic, 60_000),
      ]);

      const speedOrders = await speed.clickhouse.query({
        query: `SELECT product_id, toString(uniqExact(event_id)) AS orders FROM events_raw
                WHERE event_type = 'order.created' GROUP BY product_id ORDER BY product_id`,
        format: 'JSONEachRow',
      });
      const table = await openTable(lakeTableDir(cfg.dataDir), EVENTS_SCHEMA);
      const duck = await openDuck();
      try {
        const lakeOrders = (
          await duck.connection.runAndReadAll(
            `SELECT product_id, CAST(count(DISTINCT event_id) AS INTEGER) AS orders
             FROM ${table.readSql(await table.refresh())}
             WHERE event_type = 'order.created' GROUP BY product_id ORDER BY product_id`,
          )
        ).getRowObjectsJS();
        expect(await speedOrders.json()).toEqual([{ product_id: 'P999998', orders: '2' }]);
        expect(lakeOrders).toEqual([{ product_id: 'P999998', orders: 2 }]);
      } finally {
        duck.close();
        table.close();
      }
      expect(await quarantinedSources(kafka, cfg.quarantineTopic)).toHaveLength(1);
      expect(failures).toEqual([]);
    } finally {
      await Promise.all([speed.stop(), lake.stop()]);
    }
  }, 120_000);
});
