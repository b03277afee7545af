// The live dashboard in a real headless Chromium (Debian's `chromium`, driven by playwright-core)
// against an in-process platform: embedded ClickHouse with the speed views, the serving app with API
// keys, the query cache and live push on the real Redis, on an ephemeral port. Raw rows inserted
// with insertRaw, followed by the commit notice the speed layer's sink publishes after an insert,
// stand in for ingest. The page must get past the key prompt with a real reader key, show the
// revenue in the speed view, and show new orders' revenue to the minor unit within a second.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.ts';
import { buildDimensions, CATALOG, indexDimensions, type RawRow, toRawRows } from '../contracts/index.ts';
import { generate } from '../generator/index.ts';
import { createGate } from '../quality/index.ts';
import { buildDashboard, buildServer } from '../serving-layer/index.ts';
import { KeyStore } from '../serving-layer/keys.ts';
import { dashboardRoutes } from '../serving-layer/routes/dashboard.ts';
import {
  applySpeedLayerDdl,
  createClickHouse,
  insertRaw,
  SpeedCommitPublisher,
} from '../speed-layer/index.ts';
import { type Chromium, launchChromium } from './support/chromium.ts';
import { asMessages } from './support/messages.ts';

const OUTPUT_DIR = join(import.meta.dirname, '..', 'test-output', 'dashboard');
/** The page's poll interval (live-feed.ts POLL_MS), plus a poll's own time under load. */
const POLL_BOUND_MS = 5_000 + 3_000;
const LIVE_BOUND_MS = 1_000;
const PREFIX = `dashboard-test-${process.pid}-${Date.now()}`;
let redis: Redis;
let commits: SpeedCommitPublisher;
let readerKey: string;

const dataDir = mkdtempSync(join(tmpdir(), 'tidewater-dashboard-'));
const dims = indexDimensions(buildDimensions());
let client: ClickHouseClient;
let app: FastifyInstance;
let baseUrl: string;
let chromium: Chromium;
let page: Page;
let batches = 0;

/** Generated events gated like ingest does, as raw rows; the good ones only. */
function rawRows(seed: number, start: number, count: number, rate: number): RawRow[] {
  const messages = asMessages(generate({ seed, count, start, rate }));
  return createGate()
    .run(messages)
    .accepted.flatMap((r) => toRawRows(r.event, dims));
}

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

const figure = async (id: string) => Number(await page.locator(`#${id}`).getAttribute('data-value'));

beforeAll(async () => {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  // The page under test is built from the current sources, as `npm install` builds it.
  await buildDashboard();
  client = createClickHouse({ dataDir });
  await applySpeedLayerDdl(client, CATALOG, { rawTtlDays: 30, dedupWindow: 1000 });
  // The last 40 minutes of traffic, ending a minute ago.
  const now = Date.now();
  await insert(rawRows(7, now - 41 * 60_000, 12_000, 5));
  redis = new Redis(loadConfig().redisUrl);
  const keys = new KeyStore(redis, PREFIX);
  readerKey = (await keys.create('reader', 'dashboard test')).secret;
  commits = new SpeedCommitPublisher(redis, PREFIX, 15 * 60_000);
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
});

afterAll(async () => {
  await chromium?.close();
  await app?.close();
  await client?.close();
  if (redis) {
    const stale = await redis.keys(`${PREFIX}:*`);
    if (stale.length > 0) await redis.unlink(...stale);
    redis.disconnect();
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the live dashboard in Chromium', () => {
  it('asks for a reader key on 401 and keeps it in sessionStorage only', async () => {
    await page.goto(baseUrl);
    const dialog = page.locator('#key-dialog');
    await expect.poll(() => dialog.isVisible()).toBe(true);
    await dialog.locator('input[name=key]').fill(readerKey);
    await dialog.locator('button[type=submit]').click();
    await expect.poll(() => dialog.isVisible()).toBe(false);
    // A string runs in the page (its globals are not this Node program's).
    const storage = await page.evaluate(`({
      session: sessionStorage.getItem('tidewater.apiKey'),
      local: localStorage.length,
      cookies: document.cookie,
    })`);
    expect(storage).toEqual({ session: readerKey, local: 0, cookies: '' });
  });

  it('shows the revenue of the speed view and, when orders come in, the new total to the minor unit', async () => {
    const response = await app.inject({
      method: 'GET',
      url: `/v1/metrics/orders?from=${new Date(Date.now() - 3_600_000).toISOString()}`,
      headers: { authorization: `Bearer ${readerKey}` },
    });
    const served = (response.json() as { rows: { revenue_minor: number }[] }).rows.reduce(
      (sum, r) => sum + Number(r.revenue_minor),
      0,
    );
    expect(served).toBeGreaterThan(0);
    await expect.poll(() => figure('revenue-total'), { timeout: POLL_BOUND_MS }).toBe(served);
    // Charts are canvases drawn by uPlot: one per chart panel, with one legend row per region.
    expect(await page.locator('#revenue-chart canvas').count()).toBe(1);
    expect(await page.locator('#revenue-chart .u-legend .u-series').count()).toBeGreaterThan(2);

    // The page follows the live stream (SSE with the key in the query) rather than polling.
    // (Streams opened before the key was entered got 401 and retry with backoff.)
    await expect
      .poll(() => page.locator('#status').getAttribute('data-state'), { timeout: 20_000 })
      .toBe('live');

    const added = rawRows(8, Date.now() - 10_000, 400, 100);
    const addedRevenue = revenueOf(added);
    expect(addedRevenue).toBeGreaterThan(0);
    const started = Date.now();
    await insert(added);
    await expect
      .poll(() => figure('revenue-total'), {
        timeout: LIVE_BOUND_MS,
        interval: 50,
      })
      .toBe(served + addedRevenue);
    console.log(`revenue panel caught up ${Date.now() - started} ms after the insert (live)`);
  });

  it('fills the list panels and the header from the API', async () => {
    await expect.poll(() => page.locator('#top-products tbody tr').count()).toBe(10);
    await expect.poll(() => page.locator('#card-testing tbody tr').count()).toBeGreaterThan(0);
    await expect.poll(() => page.locator('#stock-out-count').textContent()).toMatch(/^\d+\+?$/);
    expect(await page.locator('#boundary').textContent()).toBe('speed only (no batch run yet)');
    expect(await page.locator('#freshness').textContent()).toMatch(/^\d+ s old$/);
    await page.screenshot({ path: join(OUTPUT_DIR, 'dashboard.png'), fullPage: true });
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
