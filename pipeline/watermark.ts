// Event-time progress of one partition: the newest event time seen, and the low watermark behind
// it by the allowed lateness. Minutes before the low watermark are complete unless late events
// arrive, which the speed view still counts (the batch layer remains authoritative for them).

export class EventTimeWatermark {
  private maxMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly allowedLatenessMs: number) {}

  observe(eventTimeMs: number): void {
    if (eventTimeMs > this.maxMs) this.maxMs = eventTimeMs;
  }

  /** Newest event time seen (ms since epoch), undefined before the first event. */
  get max(): number | undefined {
    return Number.isFinite(this.maxMs) ? this.maxMs : undefined;
  }

  get low(): number | undefined {
    const max = this.max;
    return max === undefined ? undefined : max - this.allowedLatenessMs;
  }
}
