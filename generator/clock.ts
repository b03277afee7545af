// Event time is a function of the record's position, never of the wall clock: start + i / rate.

const MILLIS = Array.from({ length: 1000 }, (_, ms) => String(ms).padStart(3, '0'));

export class EventClock {
  private cachedSecond = Number.NaN;
  private cachedPrefix = '';

  constructor(
    private readonly startMs: number,
    private readonly eventsPerSecond: number,
  ) {}

  /** Milliseconds since the epoch of position `index`. */
  at(index: number): number {
    return this.startMs + Math.floor((index * 1000) / this.eventsPerSecond);
  }

  /** `toISOString()` output, reusing the formatted second because most neighbours share it. */
  format(ms: number): string {
    const second = Math.floor(ms / 1000);
    if (second !== this.cachedSecond) {
      this.cachedSecond = second;
      this.cachedPrefix = new Date(second * 1000).toISOString().slice(0, 20);
    }
    return `${this.cachedPrefix}${MILLIS[ms - second * 1000]}Z`;
  }
}
