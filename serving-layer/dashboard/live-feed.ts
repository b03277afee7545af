// One metric kept current: the live push stream (GET /v1/live, Server-Sent Events) when it works,
// polling GET /v1/metrics/:name while it does not, and reconnection with backoff until it works
// again. Both paths hand over answers of the same shape: a snapshot replaces the model, a delta's
// rows replace their (minute, series) keys.
import type { Answer } from './answer.ts';
import { getMetric, type MetricRequest, metricParams } from './api.ts';
import { storedKey } from './api-key.ts';

export type FeedState = 'connecting' | 'live' | 'polling' | 'offline';

export const POLL_MS = 5_000;
const RECONNECT_BASE_MS = 2_000;
const RECONNECT_MAX_MS = 60_000;
/** A poll re-reads this much before the newest minute it has, for events that came in late. */
const POLL_OVERLAP_MS = 5 * 60_000;

export interface FeedOptions {
  request: Omit<MetricRequest, 'from' | 'grain'>;
  windowMs: number;
  onSnapshot(answer: Answer): void;
  onDelta(answer: Answer): void;
  onState(state: FeedState): void;
}

export class LiveFeed {
  private state: FeedState = 'connecting';
  private source: EventSource | undefined;
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private failures = 0;
  /** Bumped when polling stops, so an answer still under way is dropped. */
  private polling = 0;
  /** End of the last polled answer; undefined until a full poll landed. */
  private polledTo: number | undefined;
  private watermark: string | undefined;

  constructor(private readonly options: FeedOptions) {}

  start(): void {
    this.connect();
  }

  stop(): void {
    this.source?.close();
    clearTimeout(this.pollTimer);
    clearTimeout(this.reconnectTimer);
  }

  private connect(): void {
    const { request, windowMs } = this.options;
    const params = metricParams({ ...request, from: Date.now() - windowMs });
    params.set('metric', request.metric);
    params.delete('measures');
    const key = storedKey();
    if (key) params.set('key', key);
    const source = new EventSource(`/v1/live?${params}`);
    this.source = source;
    source.addEventListener('snapshot', (event) => {
      this.failures = 0;
      this.stopPolling();
      this.setState('live');
      this.options.onSnapshot(JSON.parse((event as MessageEvent<string>).data));
    });
    source.addEventListener('delta', (event) =>
      this.options.onDelta(JSON.parse((event as MessageEvent<string>).data)),
    );
    // EventSource would retry on its own, but silently: take over so the page polls meanwhile.
    source.onerror = () => {
      source.close();
      if (this.source !== source) return;
      this.source = undefined;
      this.fallBack();
    };
  }

  private fallBack(): void {
    if (this.state === 'live' || this.state === 'connecting') {
      this.setState('polling');
      this.polledTo = undefined;
      this.poll();
    }
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** this.failures++);
    this.reconnectTimer = setTimeout(() => this.connect(), delay * (0.8 + 0.4 * Math.random()));
  }

  private stopPolling(): void {
    clearTimeout(this.pollTimer);
    this.polling++;
  }

  private async poll(): Promise<void> {
    const { request, windowMs } = this.options;
    const generation = this.polling;
    const full = this.polledTo === undefined;
    let next = POLL_MS;
    try {
      const answer = await getMetric({
        ...request,
        grain: 'minute',
        from: full ? Date.now() - windowMs : (this.polledTo ?? 0) - POLL_OVERLAP_MS,
      });
      if (generation !== this.polling) return; // the stream came back while this poll was under way
      const watermark = answer.meta.boundary?.watermark;
      if (full) this.options.onSnapshot(answer);
      else this.options.onDelta(answer);
      // A moved boundary rewrites older minutes (batch replaces speed): read the whole window again.
      if (!full && watermark !== this.watermark) {
        this.polledTo = undefined;
        next = 0;
      } else this.polledTo = Date.parse(answer.to);
      this.watermark = watermark;
      this.setState('polling');
    } catch {
      if (generation !== this.polling) return;
      this.setState('offline');
    }
    this.pollTimer = setTimeout(() => this.poll(), next);
  }

  private setState(state: FeedState): void {
    if (state === this.state) return;
    this.state = state;
    this.options.onState(state);
  }
}
