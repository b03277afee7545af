// The dashboard with a week of per-minute points per region: one order per minute and region for 7
// days (10,080 minutes × 12 regions) in the speed view, the page opened with `?window=7d` in
// headless Chromium. Figures: time from navigation until the week's total is on screen, and the
// longest main-thread task (Long Tasks API, tasks over 50 ms) while loading and while the page
// keeps refreshing and repainting the week. "Without freezing": no steady-state task over 100 ms.
// Last line: {"bench":"dashboard","points":N,"load_ms":N,"longest_task_load_ms":N,
//             "longest_task_steady_ms":N,"target_longest_task_steady_ms":100,...}
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClickHouse } from '../clickhouse/index.ts';
import {
  buildDimensions,
  CATALOG,
  indexDimensions,
  type RawRow,
  REGIONS,
  toRawRows,
  toSqlTimestamp,
} from '../contracts/index.ts';
import { generate } from '../generator/index.ts';
import { buildDashboard, buildServer } from '../serving-layer/index.ts';
import { applySpeedLayerDdl, insertRaw } from '../speed-layer/index.ts';
import { launchChromium } from '../test/support/chromium.ts';
import { benchArgs, referenceCalibration, report, say } from './support.ts';

const args = benchArgs('npm run bench:dashboard -- [steady-seconds=20]');
const STEADY_SECONDS = args.number(0, 'steady-seconds', 20);
args.done();
const MINUTES = 7 * 24 * 60;
const TARGET_STEADY_TASK_MS = 100;
const TARGET_LOAD_MS = 10_000;

/** An order.created raw row (line 0 carries the order) to stamp copies from. */
function orderTemplate(): RawRow {
  const dims = indexDimensions(buildDimensions());
  for (const record of generate({ count: 1000 })) {
    if (record.event?.eventType === 'order.created') return toRawRows(record.event, dims)[0] as RawRow;
  }
  throw new Error('no order.created in the first 1000 generated events');
}

const dataDir = await mkdtemp(join(tmpdir(), 'tidewater-bench-dashboard-'));
const client = createClickHouse({ dataDir });
const chromium = await launchChromium();
const app = await buildServer({ clickhouse: client, dataDir, logger: false, maxRows: 200_000 });
try {
  await buildDashboard();
  await applySpeedLayerDdl(client, CATALOG, { rawTtlDays: 30, dedupWindow: 1000 });
  const template = orderTemplate();
  // The newest minute is the previous one, so the whole week is inside the page's 7-day window.
  const first = (Math.floor(Date.now() / 60_000) - MINUTES + 1) * 60_000;
  let rows: RawRow[] = [];
  let batch = 0;
  let points = 0;
  for (let m = 0; m < MINUTES; m++) {
    REGIONS.forEach((region, r) => {
      rows.push({
        ...template,
        event_id: randomUUID(),
        event_time: toSqlTimestamp(new Date(first + m * 60_000 + 1_000 + r).toISOString()),
        region,
        order_id: `bench-${m}-${r}`,
        total_minor: 1_000 + ((m * 7 + r * 131) % 5_000),
      });
      points++;
    });
    if (rows.length >= 20_000 || m === MINUTES - 1) {
      await insertRaw(client, rows, `bench-dashboard/${batch++}`);
      rows = [];
    }
  }
  say(`inserted ${points} orders (${MINUTES} minutes × ${REGIONS.length} regions)`);
  const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });

  const page = await chromium.browser.newPage();
  await page.addInitScript(`
    window.longTasks = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) window.longTasks.push([entry.startTime, entry.duration]);
    }).observe({ type: 'longtask', buffered: true });
  `);
  const takeLongest = async () => {
    const tasks = (await page.evaluate('window.longTasks.splice(0)')) as [number, number][];
    const at = tasks.map(([start, ms]) => `${(start / 1000).toFixed(1)} s: ${Math.round(ms)} ms`).join(', ');
    return { longest: Math.round(Math.max(0, ...tasks.map(([, ms]) => ms))), count: tasks.length, at };
  };
  const started = performance.now();
  await page.goto(`${baseUrl}/?window=7d`);
  await page.waitForFunction(`document.querySelector('#orders-total')?.dataset.value === '${points}'`, null, {
    timeout: 120_000,
    polling: 50,
  });
  const loadMs = Math.round(performance.now() - started);
  const load = await takeLongest();
  say(`week drawn ${loadMs} ms after navigation; tasks over 50 ms: ${load.at}`);
  // The stream is absent or present: either way the page keeps applying answers and repainting.
  await page.waitForTimeout(STEADY_SECONDS * 1000);
  const steady = await takeLongest();
  const state = await page.locator('#status').getAttribute('data-state');
  say(`steady ${STEADY_SECONDS} s (${state}): tasks over 50 ms: ${steady.at || 'none'}`);
  report({
    bench: 'dashboard',
    points,
    feed: state,
    load_ms: loadMs,
    longest_task_load_ms: load.longest,
    longest_task_steady_ms: steady.longest,
    long_tasks_steady: steady.count,
    target_load_ms: TARGET_LOAD_MS,
    target_longest_task_steady_ms: TARGET_STEADY_TASK_MS,
    met: loadMs <= TARGET_LOAD_MS && steady.longest <= TARGET_STEADY_TASK_MS,
    calibration: referenceCalibration(),
  });
} finally {
  await chromium.close();
  await app.close();
  await client.close();
  await rm(dataDir, { recursive: true, force: true });
}
