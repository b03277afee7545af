// Answers shared between identical statements while nothing they read can have changed: BI tools
// ask a dashboard's few statements from many connections at once, and each would otherwise take a
// session for the same answer. A key holds the statement as the engine rendered it, with its
// parameters, rules, format, limits and output settings, and `state()`: the speed view's commit
// count and the boundary (sql/index.ts). So an answer is served only until the next speed commit or
// boundary move, and for at most `maxAgeMs`, since a statement may read the clock (`now()`).
// Identical statements that arrive while one is being answered wait for that one.
import { createHash } from 'node:crypto';

interface Entry {
  value: { body: Buffer };
  bytes: number;
  at: number;
}

export class AnswerCache {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<{ body: Buffer }>>();
  private bytes = 0;

  constructor(
    private readonly maxAgeMs: number,
    private readonly maxBytes: number,
    /** What the answers depend on besides the statement; undefined: do not share answers now. */
    private readonly state: () => Promise<string | undefined>,
  ) {}

  /** `compute()`'s answer to `statement`, or the one it gave an identical statement just before. */
  async through<T extends { body: Buffer }>(statement: unknown, compute: () => Promise<T>): Promise<T> {
    if (this.maxAgeMs === 0) return compute();
    const state = await this.state().catch(() => undefined);
    if (state === undefined) return compute();
    const key = createHash('sha256')
      .update(JSON.stringify([statement, state]))
      .digest('base64url');
    const entry = this.entries.get(key);
    // The key holds the statement, so an entry under it is an answer of T's shape.
    if (entry && Date.now() - entry.at <= this.maxAgeMs) return entry.value as T;
    const waiting = this.pending.get(key);
    if (waiting) return waiting as Promise<T>;
    const computing = compute().finally(() => this.pending.delete(key));
    this.pending.set(key, computing);
    const value = await computing;
    this.store(key, value);
    return value;
  }

  /** Keeps `value`, dropping the oldest entries (and any past their age) to stay within maxBytes. */
  private store(key: string, value: { body: Buffer }): void {
    const bytes = value.body.length;
    if (bytes > this.maxBytes / 4) return;
    const old = this.entries.get(key);
    if (old) this.bytes -= old.bytes;
    this.entries.delete(key);
    const now = Date.now();
    for (const [k, e] of this.entries) {
      if (this.bytes + bytes <= this.maxBytes && now - e.at <= this.maxAgeMs) break;
      this.entries.delete(k);
      this.bytes -= e.bytes;
    }
    this.entries.set(key, { value, bytes, at: now });
    this.bytes += bytes;
  }
}

/** The engine's parse of a statement text, kept by text: parsing is a function of the text. */
export class ParseCache<P> {
  private readonly entries = new Map<string, P>();

  constructor(private readonly maxEntries: number) {}

  async through(
    text: string,
    params: Record<string, string> | undefined,
    parse: () => Promise<P>,
  ): Promise<P> {
    const key = JSON.stringify([text, params ?? {}]);
    const hit = this.entries.get(key);
    if (hit !== undefined) return hit;
    const parsed = await parse();
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, parsed);
    return parsed;
  }
}
