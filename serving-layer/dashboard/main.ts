// The live dashboard: two pushed metrics (orders by region, active users) kept in columnar models
// and drawn by uPlot; list panels polled; one painter repaints at most 30 times a second.
import 'uplot/dist/uPlot.min.css';
import './style.css';
import type { Answer, Meta, Row } from './answer.ts';
import { getMetric } from './api.ts';
import { askForKey, forgetKey } from './api-key.ts';
import { type FeedState, LiveFeed, POLL_MS } from './live-feed.ts';
import { MinuteChart } from './minute-chart.ts';
import { MinuteSeries } from './minute-series.ts';
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
let meta: { value: Meta; received: number } | undefined;

const charts = [
  new MinuteChart($('revenue-chart'), orders, { measure: 'revenue_minor', scale: 100, unit: '$' }),
  new MinuteChart($('orders-chart'), orders, { measure: 'orders' }),
  new MinuteChart($('users-chart'), users, { measure: 'users' }),
];

function paint(): void {
  const now = Date.now();
  orders.extendTo(now);
  users.extendTo(now);
  // A week of minutes per region costs tens of ms per chart: one chart per frame keeps every frame
  // short, and the others follow in the next frames.
  const stale = charts.filter((chart) => chart.stale());
  stale[0]?.paint();
  if (stale.length > 1) painter.invalidate();
  const revenue = orders.total('revenue_minor');
  setFigure(
    'revenue-total',
    revenue,
    `$${(revenue / 100).toLocaleString(undefined, { maximumFractionDigits: 0 })}`,
  );
  const count = orders.total('orders');
  setFigure('orders-total', count, `${count.toLocaleString()} orders`);
  const [, latest] = users.data('users', ['']);
  $('users-now').textContent = `${(latest?.[latest.length - 1] ?? 0).toLocaleString()} this minute`;
  paintHeader(now);
}

function setFigure(id: string, value: number, text: string): void {
  const element = $(id);
  element.dataset.value = String(value);
  element.textContent = `${text} in ${WINDOW_LABEL}`;
}

function paintHeader(now: number): void {
  if (!meta) return;
  const { value, received } = meta;
  const time = (iso: string) => new Date(iso).toLocaleString();
  $('boundary').textContent = value.boundary
    ? `batch before ${time(value.boundary.watermark)}, speed after`
    : 'speed only (no batch run yet)';
  $('lake-version').textContent = value.lakeVersion === null ? '–' : String(value.lakeVersion);
  const freshness = $('freshness');
  if (value.speed.ageSeconds === null) freshness.textContent = 'no events yet';
  else {
    const age = value.speed.ageSeconds + (now - received) / 1000;
    freshness.textContent = `${age < 120 ? `${age.toFixed(0)} s` : `${(age / 60).toFixed(0)} min`} old`;
    freshness.classList.toggle('stale', age > 60);
  }
  const quarantined = value.quarantined?.total;
  $('quarantine-total').textContent = quarantined === undefined ? '–' : quarantined.toLocaleString();
  renderQuarantine($('quarantine'), value, windowMs);
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

function startPanels(): void {
  refreshing($('top-products'), async () => {
    const answer = await getMetric({
      metric: 'product_engagement',
      from: Date.now() - HOUR,
      grain: 'all',
      groupBy: ['product_id'],
      orderBy: ['-views'],
      limit: 10,
    });
    renderTable(
      $('top-products'),
      [
        { label: 'product', value: (r) => r.product_id ?? '' },
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
    $('stock-out-count').textContent =
      `${out.length}${answer.meta.truncated && out.length === 50 ? '+' : ''}`;
    renderTable(
      $('stock-outs'),
      [
        { label: 'location', value: (r) => r.location_id ?? '' },
        { label: 'product', value: (r) => r.product_id ?? '' },
        { label: 'updated', value: (r) => utc(r.last_update).toLocaleTimeString() },
      ],
      out.slice(0, STOCK_OUTS_SHOWN),
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
        { label: 'card', value: (r) => r.card_fingerprint ?? '' },
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
  void askForKey('Enter a reader API key for this server.');
});

$('window').textContent = WINDOW_LABEL;
follow('orders', orders, 'orders', ['region'], true);
follow('active_users', users, 'active_users', [], false);
startPanels();
// The freshness clock and the window's moving edge advance without messages too.
setInterval(() => painter.invalidate(), 1_000);
