// The live dashboard in a real headless Chromium (Debian's `chromium`, driven by playwright-core)
// against an in-process platform: embedded ClickHouse with the speed views, a lake with commits,
// a quarantine table written through the real Kafka topic and writer, the serving app with API keys,
// the query cache and live push on the real Redis, on an ephemeral port. Raw rows inserted with
// insertRaw, followed by the commit notice the speed layer's sink publishes after an insert, stand
// in for ingest. What an analyst sees is checked against the API's answers for the same window:
// the headline figures, the quarantine panel (over a window longer than any live delta), the lake
// version, names instead of codes; and no error banner at any moment, the key prompt included.
// The run's screenshot is the README's (docs/dashboard.png is a copy of it).
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse } from '../clickhouse/index.ts';
import { loadConfig } from '../config/index.ts';
import { buildDimensions, CATALOG, indexDimensions, type RawRow, toRawRows } from '../contracts/index.ts';
import { generate } from '../generator/index.ts';
import type { Kafka } from '../kafka/index.ts';
import { createKafka, ensureTopics } from '../kafka/index.ts';
import {
  EVENTS_SCHEMA,
  lakeTableDir,
  openTable,
  QuarantineLakeWriter,
  quarantineTableDir,
  stageAccepted,
} from '../lake/index.ts';
import { createGate, type GateResult, QuarantinePublisher } from '../quality/index.ts';
import { buildDashboard, buildServer } from '../serving-layer/index.ts';
import { KeyStore } from '../serving-layer/keys.ts';
import { dashboardRoutes } from '../serving-layer/routes/dashboard.ts';
import { applySpeedLayerDdl, insertRaw, SpeedCommitPublisher } from '../speed-layer/index.ts';
import { type Chromium, launchChromium } from './support/chromium.ts';
import { asMessages } from './support/messages.ts';

const OUTPUT_DIR = join(import.meta.dirname, '..', 'test-output', 'dashboard');
/** The page's poll interval (live-feed.ts POLL_MS, main.ts REFRESH_MS), plus a poll's own time under load. */
const POLL_BOUND_MS = 5_000 + 3_000;
const LIVE_BOUND_MS = 1_000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const PREFIX = `dashboard-test-${process.pid}-${Date.now()}`;
const cfg = loadConfig();
const run = randomUUID();
const quarantineTopic = `dashboard-test-quarantine-${run}`;
const quarantineGroup = `dashboard-test-quarantine-${run}`;
let redis: Redis;
let kafka: Kafka;
let commits: SpeedCommitPublisher;
let adminKey: string;
let lakeVersion = -1;

const dataDir = mkdtempSync(join(tmpdir(), 'tidewater-dashboard-'));
const dimensions = buildDimensions();
const dims = indexDimensions(dimensions);
let client: ClickHouseClient;
let app: FastifyInstance;
let baseUrl: string;
let chromium: Chromium;
let page: Page;
let batches = 0;

/** Generated events through the gate, as ingest does. */
const gated = (seed: number, start: number, count: number, rate: number, badFraction = 0): GateResult =>
  createGate().run(asMessages(generate({ seed, count, start, rate, badFraction })));

/** The good ones as raw rows of the speed layer. */
const rawRows = (result: GateResult): RawRow[] => result.accepted.flatMap((r) => toRawRows(r.event, dims));

/** What the speed layer's sink does: insert, then publish the commit notice for live push. */
async function insert(rows: RawRow[]): Promise<void> {
  await insertRaw(client, rows, `dashboard-test/${batches++}`);
  const times = rows.map((r) => Date.parse(`${String(r.event_time).replace(' ', 'T')}Z`));
  commits?.notify(Math.min(...times), Math.max(...times));
}

/** Revenue of the order rows (line 0 of each order carries the order's total). */
const revenueOf = (rows: RawRow[]) =>
  rows
    .filter((r) => r.event_type === 'order.created' && r.line_index === 0)
    .reduce((sum, r) => sum + Number(r.total_minor), 0);

/**
 * Rejected records written the platform's way (quarantine topic, then the quarantine lake writer),
 * rejected `minutesAgo[i]` minutes ago in turn: far enough from any window's edge that a window
 * sliding during the test holds the same records.
 */
async function quarantine(result: GateResult, minutesAgo: readonly number[]): Promise<void> {
  const now = Date.now();
  const records = result.rejected.map((r, i) => ({
    ...r,
    rejectedAt: now - (minutesAgo[i % minutesAgo.length] ?? 0) * MINUTE,
  }));
  const publisher = new QuarantinePublisher(kafka, { topic: quarantineTopic });
  await publisher.connect();
  await publisher.publish(records);
  await publisher.disconnect();
  await new QuarantineLakeWriter({
    kafka,
    topic: quarantineTopic,
    root: quarantineTableDir(dataDir),
    groupId: quarantineGroup,
  }).runUntilCaughtUp();
}

interface ApiAnswer {
  rows: Record<string, string | number>[];
  meta: { lakeVersion: number | null; quarantined: { total: number; byRule: Record<string, number> } };
}

async function api(path: string): Promise<ApiAnswer> {
  const response = await app.inject({
    method: 'GET',
    url: path,
    headers: { authorization: `Bearer ${adminKey}` },
  });
  expect(response.statusCode, response.body).toBe(200);
  return response.json() as ApiAnswer;
}

/** The API's answer over the page's window (ending now). */
const windowAnswer = (metric: string, windowMs: number, extra = '') =>
  api(`/v1/metrics/${metric}?from=${new Date(Date.now() - windowMs).toISOString()}${extra}`);

const figure = async (id: string) => Number(await page.locator(`#${id}`).getAttribute('data-value'));

/** The quarantine panel as {rule: count}. */
const quarantinePanel = (): Promise<Record<string, number>> =>
  page.evaluate(`Object.fromEntries([...document.querySelectorAll('#quarantine li')].map((li) => [
    li.querySelector('[data-rule]').dataset.rule, Number(li.querySelector('[data-value]').dataset.value)]))`);

beforeAll(async () => {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  // The page under test is built from the current sources, as `npm install` builds it.
  await buildDashboard();
  client = createClickHouse({ dataDir });
  await applySpeedLayerDdl(client, CATALOG, { rawTtlDays: 30, dedupWindow: 1000 });
  // The last 40 minutes of traffic, ending a few seconds ago, in the speed view and (as two commits)
  // the lake.
  const now = Date.now();
  const traffic = gated(7, now - 40 * MINUTE - 10_000, 12_000, 5, 0.01);
  await insert(rawRows(traffic));
  const table = await openTable(lakeTableDir(dataDir), EVENTS_SCHEMA);
  const half = Math.floor(traffic.accepted.length / 2);
  await table.appendBatch(stageAccepted(traffic.accepted.slice(0, half), dims));
  lakeVersion = (await table.appendBatch(stageAccepted(traffic.accepted.slice(half), dims))).version;
  table.close();
  // Its rejects, rejected 10 to 50 minutes ago (inside the default hour) and 2 to 5 hours ago
  // (inside a 6-hour window only).
  kafka = createKafka(cfg, 'dashboard-test');
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic: quarantineTopic, numPartitions: 2, replicationFactor: 1 }]);
  await admin.disconnect();
  expect(traffic.rejected.length).toBeGreaterThan(50);
  await quarantine(traffic, [10, 25, 50, 120, 200, 300]);

  redis = new Redis(cfg.redisUrl);
  const keys = new KeyStore(redis, PREFIX);
  // The key a newcomer holds: the admin key the first `npm start` prints.
  adminKey = (await keys.create('admin', 'created at first start')).secret;
  commits = new SpeedCommitPublisher(redis, PREFIX, 15 * MINUTE);
  app = await buildServer({
    clickhouse: client,
    dataDir,
    logger: false,
    redis: { client: redis, prefix: PREFIX },
    auth: { keys },
  });
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  chromium = await launchChromium();
  page = await chromium.browser.newPage();
  // Every text the banner ever shows, from the first paint on (the key prompt included).
  await page.addInitScript(`
    window.__banners = [];
    new MutationObserver(() => {
      const banner = document.getElementById('banner');
      if (banner && !banner.hidden && banner.textContent) window.__banners.push(banner.textContent);
    }).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  `);
});

afterAll(async () => {
  await chromium?.close();
  await app?.close();
  await client?.close();
  if (kafka) {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [quarantineTopic] }).catch(() => {});
    await admin.deleteGroups([quarantineGroup]).catch(() => {});
    await admin.disconnect();
  }
  if (redis) {
    const stale = await redis.keys(`${PREFIX}:*`);
    if (stale.length > 0) await redis.unlink(...stale);
    redis.disconnect();
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the live dashboard in Chromium', () => {
  it('takes the admin key the first start printed, keeps it in sessionStorage only, and goes live without a banner', async () => {
    await page.goto(baseUrl);
    const dialog = page.locator('#key-dialog');
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await dialog.textContent()).toContain('admin key');
    // Behind the prompt nothing claims a stream was lost: none was opened without a key.
    expect(await page.locator('#banner').isHidden()).toBe(true);
    await dialog.locator('input[name=key]').fill(adminKey);
    await dialog.locator('button[type=submit]').click();
    await expect.poll(() => dialog.isVisible()).toBe(false);
    // A string runs in the page (its globals are not this Node program's).
    const storage = await page.evaluate(`({
      session: sessionStorage.getItem('tidewater.apiKey'),
      local: localStorage.length,
      cookies: document.cookie,
    })`);
    expect(storage).toEqual({ session: adminKey, local: 0, cookies: '' });
    // The streams open once the key is known: live at the first try, not after a backoff.
    await expect
      .poll(() => page.locator('#status').getAttribute('data-state'), { timeout: POLL_BOUND_MS })
      .toBe('live');
    expect(await page.evaluate('window.__banners')).toEqual([]);
  });

  it('shows the revenue and orders of the API for the window and, when orders come in, the new total to the minor unit', async () => {
    const answer = await windowAnswer('orders', HOUR);
    const sum = (measure: string) => answer.rows.reduce((n, r) => n + Number(r[measure]), 0);
    expect(sum('revenue_minor')).toBeGreaterThan(0);
    await expect.poll(() => figure('revenue-total'), { timeout: POLL_BOUND_MS }).toBe(sum('revenue_minor'));
    expect(await figure('orders-total')).toBe(sum('orders'));
    // The window's figures include the minute under way, and say so.
    expect(await page.locator('#revenue-total').textContent()).toMatch(/ in 1 h so far$/);
    expect(await page.locator('#users-now').textContent()).toMatch(
      /in the last full minute, [\d,]+ so far in this one$/,
    );
    // Charts are canvases drawn by uPlot: one per chart panel; stacked, one legend row per region.
    expect(await page.locator('#revenue-chart canvas').count()).toBe(1);
    const legend = page.locator('#revenue-chart .u-legend .u-series');
    expect(await legend.count()).toBeGreaterThan(2);
    // Without hovering, the legend names the last full minute and every region's value in it.
    expect(await legend.first().textContent()).toContain('last full minute');
    const values = await page.locator('#revenue-chart .u-legend .u-series .u-value').allTextContents();
    expect(values.slice(1).every((v) => /^\$[\d,]+$/.test(v))).toBe(true);

    const added = rawRows(gated(8, Date.now() - 10_000, 400, 100));
    const addedRevenue = revenueOf(added);
    expect(addedRevenue).toBeGreaterThan(0);
    const started = Date.now();
    await insert(added);
    await expect
      .poll(() => figure('revenue-total'), { timeout: LIVE_BOUND_MS, interval: 50 })
      .toBe(sum('revenue_minor') + addedRevenue);
    console.log(`revenue panel caught up ${Date.now() - started} ms after the insert (live)`);
  });

  it('counts quarantined records over the whole window, as the API does, after live deltas came in', async () => {
    // The insert above made the streams send deltas: each covers a minute or two, never the hour.
    const answer = await windowAnswer('orders', HOUR, '&grain=all');
    const { total, byRule } = answer.meta.quarantined;
    expect(total).toBeGreaterThan(0);
    await expect.poll(() => figure('quarantine-total'), { timeout: POLL_BOUND_MS }).toBe(total);
    expect(await quarantinePanel()).toEqual(byRule);
  });

  it('fills the list panels with names from the dimensions, and the header with the lake version', async () => {
    await expect.poll(() => page.locator('#top-products tbody tr').count()).toBe(10);
    const products = new Map(dimensions.products.map((p) => [p.productId, p]));
    const top = await page.locator('#top-products tbody tr td:first-child').evaluateAll((cells) =>
      cells.map((td) => ({
        name: td.firstChild?.textContent,
        detail: td.querySelector('small')?.textContent,
      })),
    );
    for (const { name, detail } of top) {
      const [code = '', category] = (detail ?? '').split(' · ');
      expect(products.get(code)?.name, `${code}`).toBe(name);
      expect(products.get(code)?.category).toBe(category);
    }
    await expect.poll(() => page.locator('#card-testing tbody tr').count()).toBeGreaterThan(0);
    await expect.poll(() => page.locator('#stock-out-count').textContent()).toMatch(/^\d+\+?$/);
    const places = new Map(
      [...dimensions.stores, ...dimensions.fulfilmentCentres].map((s) => [
        'storeId' in s ? s.storeId : s.fulfilmentCentreId,
        s.name,
      ]),
    );
    const locations = await page.locator('#stock-outs tbody tr td:first-child').evaluateAll((cells) =>
      cells.map((td) => ({
        name: td.firstChild?.textContent,
        code: td.querySelector('small')?.textContent,
      })),
    );
    for (const { name, code } of locations) expect(places.get((code ?? '').split(' · ')[0] ?? '')).toBe(name);

    expect(await page.locator('#boundary').textContent()).toBe('speed only (no batch run yet)');
    expect(await page.locator('#freshness').textContent()).toMatch(/^\d+ s old$/);
    expect((await windowAnswer('orders', HOUR)).meta.lakeVersion).toBe(lakeVersion);
    expect(await page.locator('#lake-version').textContent()).toBe(String(lakeVersion));
    expect(await page.evaluate('window.__banners')).toEqual([]);
    await page.screenshot({ path: join(OUTPUT_DIR, 'dashboard.png'), fullPage: true });
  });

  it('shows one region alone when chosen, its value in the legend without hovering', async () => {
    const region = 'texas';
    await page.locator('#region-view').selectOption(`only:${region}`);
    const legend = page.locator('#orders-chart .u-legend .u-series');
    await expect.poll(() => legend.count()).toBe(2);
    expect(await legend.nth(1).textContent()).toContain(region);
    expect(await legend.nth(1).locator('.u-value').textContent()).toMatch(/^\d+$/);
    await page.locator('#region-view').selectOption('stacked');
  });

  it('a 6-hour window counts the quarantine of 6 hours: more than the hour, as the API does', async () => {
    const hour = (await windowAnswer('orders', HOUR, '&grain=all')).meta.quarantined.total;
    await page.goto(`${baseUrl}/?window=6h`);
    const answer = await windowAnswer('orders', 6 * HOUR, '&grain=all');
    expect(answer.meta.quarantined.total).toBeGreaterThan(hour);
    await expect
      .poll(() => figure('quarantine-total'), { timeout: POLL_BOUND_MS })
      .toBe(answer.meta.quarantined.total);
    expect(await quarantinePanel()).toEqual(answer.meta.quarantined.byRule);
    await expect.poll(() => page.locator('#status').getAttribute('data-state')).toBe('live');
    expect(await page.evaluate('window.__banners')).toEqual([]);
  });
});

describe('without a build', () => {
  it('GET / answers 503 naming the command that builds the page', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'tidewater-no-dashboard-'));
    const bare = Fastify();
    await bare.register(dashboardRoutes, { dir: empty });
    const response = await bare.inject({ method: 'GET', url: '/' });
    await bare.close();
    rmSync(empty, { recursive: true, force: true });
    expect(response.statusCode).toBe(503);
    expect(response.body).toContain('npm run build:dashboard');
  });
});
