// The metric tables of the SQL endpoint: one view per catalog metric in a database of their own
// (per minute and every dimension, finished values, batch below the boundary and speed above).
// Nothing else lives in that database, so a bare table name in a user's statement can only reach a
// metric view. The views follow the boundary: they are re-created when it moves, checked on a timer
// and again before each statement, so a BI tool's catalog is current and no statement sees an old split.
import type { ClickHouseClient } from '@clickhouse/client';
import type { Catalog } from '../../contracts/catalog.ts';
import type { BoundaryState } from '../context.ts';
import { planSegments } from '../merge-plan.ts';
import { mergedViewSelect } from '../merged-query.ts';
import { quoteIdentifier } from './sessions.ts';

const ALL_TIME = { from: 0, to: Date.UTC(2100, 0, 1) };

export class MergedViews {
  private applied: string | undefined;
  private applying: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly clickhouse: ClickHouseClient,
    readonly database: string,
    private readonly catalog: Catalog,
    private readonly boundary: () => BoundaryState | undefined,
  ) {}

  get tables(): ReadonlySet<string> {
    return new Set(this.catalog.map((m) => m.name));
  }

  /** Creates or replaces the views when the boundary differs from the one they were made for. */
  async ensure(): Promise<void> {
    const boundary = this.boundary();
    const key = boundary ? `${boundary.since}/${boundary.watermark}` : 'none';
    if (this.applied === key) return;
    this.applying ??= this.apply(boundary, key).finally(() => {
      this.applying = undefined;
    });
    await this.applying;
    if (this.applied !== key) await this.ensure();
  }

  /** Keeps the views current every `intervalMs` until close(); failures are reported to `onError`. */
  follow(intervalMs: number, onError: (error: unknown) => void): void {
    this.timer = setInterval(() => this.ensure().catch(onError), intervalMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async apply(boundary: BoundaryState | undefined, key: string): Promise<void> {
    const db = quoteIdentifier(this.database);
    if (this.applied === undefined) {
      await this.clickhouse.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` });
      // A metric taken out of the catalog leaves no view behind.
      const existing = await this.clickhouse.query({
        query: 'SELECT name FROM system.tables WHERE database = {database:String}',
        query_params: { database: this.database },
        format: 'JSONEachRow',
      });
      for (const { name } of await existing.json<{ name: string }>())
        if (!this.tables.has(name))
          await this.clickhouse.command({ query: `DROP VIEW IF EXISTS ${db}.${quoteIdentifier(name)}` });
    }
    const segments = planSegments(ALL_TIME, boundary);
    for (const metric of this.catalog) {
      await this.clickhouse.command({
        query: `CREATE OR REPLACE VIEW ${db}.${quoteIdentifier(metric.name)} AS\n${mergedViewSelect(metric, segments)}`,
      });
    }
    this.applied = key;
  }
}
