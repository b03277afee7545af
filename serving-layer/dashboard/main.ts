// The live dashboard: two pushed metrics (orders by region, active users) kept in columnar models
// and drawn by uPlot; list panels polled; one painter repaints at most 30 times a second.
import 'uplot/dist/uPlot.min.css';
import './style.css';
import type { Answer, Meta, Row } from './answer.ts';
import { getJson, getMetric } from './api.ts';
import { askForKey, forgetKey, KEY_HINT } from './api-key.ts';
import { type FeedState, LiveFeed, POLL_MS } from './live-feed.ts';
import { type ChartView, MinuteChart } from './minute-chart.ts';
import { MinuteSeries } from './minute-series.ts';
import { DimensionNames } from './names.ts';
import { createPainter } from './painter.ts';
import { renderQuarantine, renderTable } from './tables.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const REFRESH_MS = 5_000;
const STOCK_OUTS_SHOWN = 12;
/** Card testing: this many declines on one card from this many IPs within the last 15 minutes. */
const CARD_ALERT = { failures: 10, ips: 3, windowMs: 15 * MINUTE };

const $ = (id: string): HTMLElement => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element;
};

/** `?window=6h` / `90m` / `7d`; an hour by default. */
function windowFromUrl(): number {
  const match = /^(\d+)([mhd])$/.exec(new URLSearchParams(location.search).get('window') ?? '');
  if (!match) return HOUR;
  return Number(match[1]) * { m: MINUTE, h: HOUR, d: 24 * HOUR }[match[2] as 'm' | 'h' | 'd'];
}

const windowMs = windowFromUrl();
const WINDOW_LABEL =
  windowMs % (24 * HOUR) === 0
    ? `${windowMs / (24 * HOUR)} d`
    : windowMs % HOUR === 0
      ? `${windowMs / HOUR} h`
      : `${windowMs / MINUTE} min`;
const orders = new MinuteSeries(windowMs);
const users = new MinuteSeries(windowMs);
/** Boundary, lake version and freshness: the same for every answer, so every live message updates them. */
let meta: { value: Meta; received: number } | undefined;
const names = new DimensionNames();

const regionCharts = [
  new MinuteChart($('revenue-chart'), orders, { measure: 'revenue_minor', scale: 100, unit: '$' }),
  new MinuteChart($('orders-chart'), orders, { measure: 'orders' }),
];
const charts = [...regionCharts, new MinuteChart($('users-chart'), users, { measure: 'users' })];

function paint(): void {
  const now = Date.now();
  orders.extendTo(now);
  users.extendTo(now);
  // A week of minutes per region costs tens of ms per chart: one chart per frame keeps every frame
  // short, and the others follow in the next frames.
  const stale = charts.filter((chart) => chart.stale(now));
  stale[0]?.paint(now);
  if (stale.length > 1) painter.invalidate();
  offerRegions(regionCharts[0]?.keys() ?? []);
  // The window's totals include the minute under way: "so far".
  const revenue = orders.total('revenue_minor');
  setFigure(
    'revenue-total',
    revenue,
    `$${(revenue / 100).toLocaleString(undefined, { maximumFractionDigits: 0 })} in ${WINDOW_LABEL} so far`,
  );
  const count = orders.total('orders');
  setFigure('orders-total', count, `${count.toLocaleString()} orders in ${WINDOW_LABEL} so far`);
  const closed = users.closedLength(now);
  const lastFull = users.totalAt('users', closed - 1);
  const open = closed < users.size ? users.totalAt('users', closed) : 0;
  setFigure(
    'users-now',
    lastFull,
    `${lastFull.toLocaleString()} in the last full minute, ${open.toLocaleString()} so far in this one`,
  );
  paintHeader(now);
}

function setFigure(id: string, value: number, text: string): void {
  const element = $(id);
  element.dataset.value = String(value);
  element.textContent = text;
}

/** The region chooser: every region stacked (the total on top), as lines, or one region alone. */
const regionView = $('region-view') as HTMLSelectElement;
let offered = '';

function offerRegions(regions: readonly string[]): void {
  if (JSON.stringify(regions) === offered) return;
  offered = JSON.stringify(regions);
  const chosen = regionView.value;
  const option = (value: string, label: string) => {
    const element = document.createElement('option');
    element.value = value;
    element.textContent = label;
    return element;
  };
  regionView.replaceChildren(
    option('stacked', 'all regions, stacked'),
    option('lines', 'all regions, lines'),
    ...regions.map((region) => option(`only:${region}`, region)),
  );
  regionView.value = [...regionView.options].some((o) => o.value === chosen) ? chosen : 'stacked';
}

regionView.addEventListener('change', () => {
  const value = regionView.value;
  const view: ChartView = value.startsWith('only:')
    ? { stacked: false, only: value.slice('only:'.length) }
    : { stacked: value === 'stacked' };
  for (const chart of regionCharts) chart.setView(view);
  painter.invalidate();
});

function paintHeader(now: number): void {
  if (!meta) return;
  const { value, received } = meta;
  const time = (iso: string) => new Date(iso).toLocaleString();
  const batchFrom = value.boundary?.lakeVersion;
  $('boundary').textContent = value.boundary
    ? `batch before ${time(value.boundary.watermark)}${batchFrom == null ? '' : ` (lake v${batchFrom})`}, speed after`
    : 'speed only (no batch run yet)';
  $('lake-version').textContent = value.lakeVersion === null ? 'no commit yet' : String(value.lakeVersion);
  const freshness = $('freshness');
  if (value.speed.ageSeconds === null) freshness.textContent = 'no events yet';
  else {
    const age = value.speed.ageSeconds + (now - received) / 1000;
    freshness.textContent = `${age < 120 ? `${age.toFixed(0)} s` : `${(age / 60).toFixed(0)} min`} old`;
    freshness.classList.toggle('stale', age > 60);
  }
}

const painter = createPainter(paint, { requestFrame: (callback) => requestAnimationFrame(callback) });

// The page's state is the worst of its feeds': one lost stream is enough to say so.
const states = new Map<string, FeedState>();
const SEVERITY: FeedState[] = ['live', 'connecting', 'polling', 'offline'];
const BANNER: Partial<Record<FeedState, string>> = {
  polling: `live stream lost, polling every ${POLL_MS / 1000} s`,
  offline: 'server unreachable, retrying',
};

function showState(): void {
  const worst = [...states.values()].reduce((a, b) => (SEVERITY.indexOf(b) > SEVERITY.indexOf(a) ? b : a));
  const status = $('status');
  status.dataset.state = worst;
  status.textContent = worst;
  const banner = $('banner');
  banner.textContent = BANNER[worst] ?? '';
  banner.hidden = !BANNER[worst];
}

function follow(name: string, model: MinuteSeries, metric: string, groupBy: string[], keepsMeta: boolean) {
  const received = (answer: Answer) => {
    if (keepsMeta) meta = { value: answer.meta, received: Date.now() };
    painter.invalidate();
  };
  states.set(name, 'connecting');
  new LiveFeed({
    request: { metric, groupBy },
    windowMs,
    onSnapshot: (answer) => {
      model.reset(answer);
      received(answer);
    },
    onDelta: (answer) => {
      model.apply(answer.rows);
      received(answer);
    },
    onState: (state) => {
      states.set(name, state);
      showState();
    },
  }).start();
}

/** A list panel re-read every REFRESH_MS; a failed read says so in the panel and tries again. */
function refreshing(host: HTMLElement, load: () => Promise<void>): void {
  const run = async () => {
    try {
      await load();
    } catch (error) {
      host.textContent = `unavailable: ${(error as Error).message}`;
    }
    setTimeout(run, REFRESH_MS);
  };
  void run();
}

const num = (column: string) => (row: Row) => Number(row[column] ?? 0);
/** ClickHouse DateTime64 text ('2025-06-01 10:00:00.000') is UTC without saying so. */
const utc = (value: unknown) => {
  const text = String(value);
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text.replace(' ', 'T')}Z`);
};
const truthy = (value: unknown) => value === true || value === 1 || value === '1' || value === 'true';

/** Name and category of a product code; the code alone until (or unless) the table knows it. */
const product = (code: unknown) => names.find(['products'], String(code ?? ''));
const place = (code: unknown) => names.find(['stores', 'fulfilment_centres'], String(code ?? ''));
const nameOr = (row: Row | undefined, code: unknown) => String(row?.name ?? code ?? '');
const codeAnd = (code: unknown, more: unknown) =>
  [code, more].filter((v) => v != null && v !== '').join(' · ');

function startPanels(): void {
  refreshing($('quarantine'), async () => {
    // Counts of an answer over the whole window (any metric's meta carries them).
    const answer = await getMetric({
      metric: 'orders',
      from: Date.now() - windowMs,
      grain: 'all',
      measures: ['orders'],
    });
    const quarantined = answer.meta.quarantined;
    const total = $('quarantine-total');
    total.textContent = quarantined ? `${quarantined.total.toLocaleString()} in ${WINDOW_LABEL}` : '–';
    total.dataset.value = String(quarantined?.total ?? '');
    renderQuarantine($('quarantine'), quarantined, windowMs);
  });

  refreshing($('top-products'), async () => {
    const answer = await getMetric({
      metric: 'product_engagement',
      from: Date.now() - HOUR,
      grain: 'all',
      groupBy: ['product_id'],
      orderBy: ['-views'],
      limit: 10,
    });
    await names.load(
      'products',
      answer.rows.map((r) => String(r.product_id)),
    );
    renderTable(
      $('top-products'),
      [
        {
          label: 'product',
          value: (r) => nameOr(product(r.product_id), r.product_id),
          detail: (r) => codeAnd(r.product_id, product(r.product_id)?.category),
        },
        { label: 'views', value: num('views'), numeric: true },
        { label: 'clicks', value: num('clicks'), numeric: true },
      ],
      answer.rows,
      'no product views in the last hour',
    );
  });

  refreshing($('stock-outs'), async () => {
    const answer = await getMetric({
      metric: 'inventory',
      from: Date.now() - HOUR,
      grain: 'all',
      groupBy: ['location_id', 'product_id'],
      orderBy: ['-is_stock_out', '-last_update'],
      limit: 50,
    });
    const out = answer.rows.filter((r) => truthy(r.is_stock_out));
    const shown = out.slice(0, STOCK_OUTS_SHOWN);
    await Promise.all([
      names.load(
        'products',
        shown.map((r) => String(r.product_id)),
      ),
      ...(['stores', 'fulfilment_centres'] as const).map((table) =>
        names.load(
          table,
          shown.map((r) => String(r.location_id)),
        ),
      ),
    ]);
    $('stock-out-count').textContent =
      `${out.length}${answer.meta.truncated && out.length === 50 ? '+' : ''}`;
    renderTable(
      $('stock-outs'),
      [
        {
          label: 'location',
          value: (r) => nameOr(place(r.location_id), r.location_id),
          detail: (r) => codeAnd(r.location_id, place(r.location_id)?.region),
        },
        {
          label: 'product',
          value: (r) => nameOr(product(r.product_id), r.product_id),
          detail: (r) => codeAnd(r.product_id, product(r.product_id)?.category),
        },
        {
          label: 'updated',
          value: (r) =>
            utc(r.last_update).toLocaleTimeString(undefined, {
              hour: '2-digit',
              minute: '2-digit',
              second: '2-digit',
              hourCycle: 'h23',
            }),
          numeric: true,
        },
      ],
      shown,
      'nothing out of stock',
    );
  });

  refreshing($('card-testing'), async () => {
    const answer = await getMetric({
      metric: 'failed_payments',
      from: Date.now() - CARD_ALERT.windowMs,
      grain: 'all',
      groupBy: ['card_fingerprint'],
      orderBy: ['-failures'],
      limit: 10,
    });
    const alert = (r: Row) => num('failures')(r) >= CARD_ALERT.failures && num('ips')(r) >= CARD_ALERT.ips;
    $('card-alert-count').textContent = `${answer.rows.filter(alert).length} alerts`;
    renderTable(
      $('card-testing'),
      [
        // Payments carry a card's fingerprint only (no number, no holder): there is no name to show.
        { label: 'card fingerprint', value: (r) => r.card_fingerprint ?? '' },
        { label: 'declines', value: num('failures'), numeric: true },
        { label: 'IPs', value: num('ips'), numeric: true },
        {
          label: 'amount',
          value: (r) => `$${(num('failed_amount_minor')(r) / 100).toFixed(2)}`,
          numeric: true,
        },
      ],
      answer.rows,
      'no declined payments',
      alert,
    );
  });
}

$('change-key').addEventListener('click', () => {
  forgetKey();
  void askForKey(`Enter an API key for this server. ${KEY_HINT}`);
});

$('window').textContent = WINDOW_LABEL;
// A stream refused for want of a key would show as a lost stream: first make sure the server takes
// the key (asking for one when it answers 401), then open the streams and panels. Any other failure
// (an unreachable server) is the feeds' to report.
await getJson('/v1/metrics').catch(() => undefined);
follow('orders', orders, 'orders', ['region'], true);
follow('active_users', users, 'active_users', [], false);
startPanels();
// The freshness clock and the window's moving edge advance without messages too.
setInterval(() => painter.invalidate(), 1_000);
