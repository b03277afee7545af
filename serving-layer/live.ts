// Live push: every API instance subscribes to the speed layer's commit notices (Redis pub/sub) and
// each live subscription re-queries the minutes a notice touched, at most `maxRate` times a second,
// and sends the rows whose values changed, each with its current full value (a client replaces by
// time and dimensions). Notices arriving while a query runs are gathered into the next one.
import type { Redis } from 'ioredis';
import { parseCommitNotice, speedCommitsChannel } from '../speed-layer/index.ts';
import type { ServingContext } from './context.ts';
import { answerMetric, type MetricAnswerParts, renderAnswer } from './metric-answer.ts';
import type { MetricQuery } from './metric-query.ts';

const MINUTE_MS = 60_000;
const floorMinute = (ms: number) => Math.floor(ms / MINUTE_MS) * MINUTE_MS;

type Send = (event: 'snapshot' | 'delta' | 'error', data: string) => void;
type Row = Record<string, unknown>;

export class LiveSubscription {
  /** Last value sent per (time, dimensions) key, as JSON. */
  private readonly sent = new Map<string, string>();
  private dirty: { from: number; to: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private ready = false;
  private lastRun = 0;
  private closed = false;

  constructor(
    private readonly ctx: ServingContext,
    private readonly metric: string,
    /** groupBy and filters; `from` is where the subscription's range starts. */
    private readonly query: Omit<MetricQuery, 'to'> & { from: number },
    private readonly intervalMs: number,
    private readonly send: Send,
  ) {}

  /** Sends the snapshot: the metrics answer from `from` to now. */
  async start(): Promise<void> {
    const answer = await answerMetric(this.ctx, this.metric, this.query);
    this.remember(answer, JSON.parse(answer.rowsJson) as Row[]);
    this.send('snapshot', this.render(answer, answer.rowsJson));
    this.ready = true;
    this.lastRun = Date.now();
    this.schedule();
  }

  /** A commit touched event times [oldest, newest]. */
  touch(oldest: number, newest: number): void {
    if (newest < this.query.from) return;
    this.widen({ from: Math.max(floorMinute(oldest), this.query.from), to: floorMinute(newest) + MINUTE_MS });
    this.schedule();
  }

  private widen(range: { from: number; to: number }): void {
    const dirty = this.dirty;
    this.dirty = dirty ? { from: Math.min(dirty.from, range.from), to: Math.max(dirty.to, range.to) } : range;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (!this.ready || this.closed || this.running || this.timer || !this.dirty) return;
    const wait = Math.max(0, this.lastRun + this.intervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, wait);
  }

  private async run(): Promise<void> {
    const range = this.dirty;
    if (!range || this.closed) return;
    this.dirty = undefined;
    this.running = true;
    this.lastRun = Date.now();
    try {
      const answer = await answerMetric(this.ctx, this.metric, { ...this.query, ...range });
      const changed = this.remember(answer, JSON.parse(answer.rowsJson) as Row[]);
      if (changed.length > 0 && !this.closed)
        this.send('delta', this.render(answer, JSON.stringify(changed)));
    } catch (error) {
      // The next run retries these minutes too.
      this.widen(range);
      this.send(
        'error',
        JSON.stringify({ error: { code: 'live_query_failed', message: (error as Error).message } }),
      );
    } finally {
      this.running = false;
      this.schedule();
    }
  }

  /** Records the rows' values; returns those that differ from what was sent. */
  private remember(answer: MetricAnswerParts, rows: Row[]): Row[] {
    const dimensions = answer.head.dimensions as string[];
    const changed: Row[] = [];
    for (const row of rows) {
      const key = JSON.stringify([row.time, ...dimensions.map((d) => row[d])]);
      const value = JSON.stringify(row);
      if (this.sent.get(key) === value) continue;
      this.sent.set(key, value);
      changed.push(row);
    }
    return changed;
  }

  /** Exactly the metrics answer's body, with `rows` as given. */
  private render(answer: MetricAnswerParts, rowsJson: string): string {
    return renderAnswer({ ...answer, rowsJson });
  }
}

/** One per API instance: the Redis subscription that fans commit notices out to live clients. */
export class LiveHub {
  private readonly subscriptions = new Set<LiveSubscription>();
  private readonly subscriber: Redis;
  private readonly channel: string;
  private subscribed: Promise<unknown> | undefined;

  constructor(redis: Redis, prefix: string) {
    // A subscribed connection can do nothing else: a connection of its own.
    this.subscriber = redis.duplicate();
    this.channel = speedCommitsChannel(prefix);
    this.subscriber.on('message', (_channel: string, message: string) => {
      const notice = parseCommitNotice(message);
      if (notice) for (const s of this.subscriptions) s.touch(notice.oldest, notice.newest);
    });
  }

  async add(subscription: LiveSubscription): Promise<void> {
    this.subscribed ??= this.subscriber.subscribe(this.channel);
    await this.subscribed;
    this.subscriptions.add(subscription);
  }

  remove(subscription: LiveSubscription): void {
    subscription.close();
    this.subscriptions.delete(subscription);
  }

  get size(): number {
    return this.subscriptions.size;
  }

  async close(): Promise<void> {
    for (const s of this.subscriptions) s.close();
    this.subscriptions.clear();
    this.subscriber.disconnect();
  }
}
