// The dashboard's LiveFeed state machine with a scripted EventSource and fetch (a pure unit: the
// browser test covers the page against the real server). Stream up -> live; stream lost -> polling
// (full answer, then the recent minutes) and reconnection with backoff; stream back -> live, polling
// stops. Type-checked with the page (serving-layer/dashboard/tsconfig.json: it needs the DOM types).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Answer } from '../serving-layer/dashboard/answer.ts';
import { type FeedState, LiveFeed, POLL_MS } from '../serving-layer/dashboard/live-feed.ts';
import { ordersAnswer } from './support/dashboard.ts';

class ScriptedEventSource {
  static opened: ScriptedEventSource[] = [];
  private readonly listeners = new Map<string, (event: { data: string }) => void>();
  onerror: (() => void) | null = null;
  closed = false;

  constructor(readonly url: string) {
    ScriptedEventSource.opened.push(this);
  }

  addEventListener(type: string, listener: (event: { data: string }) => void): void {
    this.listeners.set(type, listener);
  }

  close(): void {
    this.closed = true;
  }

  send(type: 'snapshot' | 'delta', answer: Answer): void {
    this.listeners.get(type)?.({ data: JSON.stringify(answer) });
  }

  fail(): void {
    this.onerror?.();
  }
}

const answer = (from: string, note: string): Answer =>
  ordersAnswer(
    from,
    '2025-06-01T11:00:00.000Z',
    ['orders'],
    [{ time: '2025-06-01T10:59:00.000Z', region: note, orders: 1 }],
  );

let received: string[];
let states: FeedState[];
let fetched: URL[];
let feed: LiveFeed;
const WINDOW_MS = 3_600_000;
const NOW = Date.parse('2025-06-01T11:00:00Z');

beforeEach(() => {
  vi.useFakeTimers({ now: NOW });
  vi.spyOn(Math, 'random').mockReturnValue(0.5); // no jitter: backoff delays are exact
  ScriptedEventSource.opened = [];
  received = [];
  states = [];
  fetched = [];
  vi.stubGlobal('EventSource', ScriptedEventSource);
  vi.stubGlobal('sessionStorage', { getItem: () => 'tw_key' });
  vi.stubGlobal('fetch', async (path: string, init: RequestInit) => {
    const url = new URL(path, 'http://dashboard');
    fetched.push(url);
    expect(new Headers(init.headers).get('authorization')).toBe('Bearer tw_key');
    return new Response(JSON.stringify(answer(url.searchParams.get('from') ?? '', 'polled')));
  });
  feed = new LiveFeed({
    request: { metric: 'orders', groupBy: ['region'] },
    windowMs: WINDOW_MS,
    onSnapshot: (a) => received.push(`snapshot:${a.rows[0]?.region}`),
    onDelta: (a) => received.push(`delta:${a.rows[0]?.region}`),
    onState: (s) => states.push(s),
  });
});

afterEach(() => {
  feed.stop();
  vi.useRealTimers();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

const stream = (i: number) => ScriptedEventSource.opened[i] as ScriptedEventSource;

describe('LiveFeed', () => {
  it('subscribes with the protocol parameters and applies snapshot then deltas while live', () => {
    feed.start();
    const url = new URL(stream(0).url, 'http://dashboard');
    expect(url.pathname).toBe('/v1/live');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      from: new Date(NOW - WINDOW_MS).toISOString(),
      groupBy: 'region',
      metric: 'orders',
      key: 'tw_key',
    });
    stream(0).send('snapshot', answer('a', 'streamed'));
    stream(0).send('delta', answer('a', 'streamed'));
    expect(states).toEqual(['live']);
    expect(received).toEqual(['snapshot:streamed', 'delta:streamed']);
  });

  it('polls while the stream is lost, reconnects with backoff, and stops polling once live again', async () => {
    feed.start();
    stream(0).send('snapshot', answer('a', 'streamed'));
    stream(0).fail();
    expect(stream(0).closed).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(states).toEqual(['live', 'polling']);
    // First poll reads the whole window; the next ones the recent minutes only, as deltas.
    expect(fetched.map((u) => u.searchParams.get('from'))).toEqual([new Date(NOW - WINDOW_MS).toISOString()]);
    expect(fetched[0]?.pathname).toBe('/v1/metrics/orders');
    expect(fetched[0]?.searchParams.get('grain')).toBe('minute');

    // Reconnection after 2 s fails; the next try waits 4 s. Polling goes on meanwhile.
    await vi.advanceTimersByTimeAsync(2_000);
    expect(ScriptedEventSource.opened).toHaveLength(2);
    stream(1).fail();
    await vi.advanceTimersByTimeAsync(POLL_MS - 2_000);
    expect(fetched).toHaveLength(2);
    expect(fetched[1]?.searchParams.get('from')).toBe('2025-06-01T10:55:00.000Z');
    expect(received.slice(1)).toEqual(['snapshot:polled', 'delta:polled']);
    await vi.advanceTimersByTimeAsync(3_900 - (POLL_MS - 2_000));
    expect(ScriptedEventSource.opened).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(100);
    expect(ScriptedEventSource.opened).toHaveLength(3);

    stream(2).send('snapshot', answer('b', 'streamed again'));
    expect(states.at(-1)).toBe('live');
    const polls = fetched.length;
    await vi.advanceTimersByTimeAsync(4 * POLL_MS);
    expect(fetched).toHaveLength(polls);
    expect(received.at(-1)).toBe('snapshot:streamed again');
  });
});
