// What every route reads: the engines, the catalog, the dimensions and the facts that go into an
// answer's `meta` (the boundary, the lake's version, speed freshness, quarantine counts), each looked
// up once per short interval.
import { access, constants } from 'node:fs/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import {
  batchViewDdl,
  batchViewsDir,
  type PendingDay,
  pendingCorrections,
  readCorrections,
  readWatermark,
} from '../batch-layer/index.ts';
import { clickhouseDialect as ch } from '../clickhouse/index.ts';
import { ACCEPTED_EVENTS, CATALOG, type Catalog, type Metric } from '../contracts/catalog.ts';
import { type Dimensions, loadPlatformDimensions } from '../contracts/index.ts';
import { lakeTableDir, listLog, openQuarantineStore, quarantineTableDir } from '../lake/index.ts';
import type { Orchestrator } from '../orchestration/index.ts';
import type { QuarantineStore } from '../quality/index.ts';
import { RAW_TABLE } from '../speed-layer/index.ts';
import { ttlCache } from './cache.ts';
import { comparedWindow, type LateHour, lateHours } from './corrections.ts';
import { notFound } from './errors.ts';
import type { IngestOptions } from './ingest.ts';
import type { KeyStore } from './keys.ts';
import type { Boundary } from './merge-plan.ts';
import { QueryCache } from './query-cache.ts';
import type { SqlLimits } from './sql/index.ts';

export interface ServingOptions {
  clickhouse: ClickHouseClient;
  dataDir: string;
  catalog?: Catalog;
  /** Prometheus registry served at /metrics (the platform's, so every layer's metrics appear). */
  registry?: Registry;
  /** Readiness probes by dependency name: each resolves when it answers. */
  probes?: Record<string, () => Promise<unknown>>;
  /** Backfills and jobs; without it those routes answer 503. */
  orchestrator?: Orchestrator;
  /** The SQL endpoint: its limits, the database of its views, its sessions (sql/). */
  sql?: Partial<SqlLimits> & { database?: string; lanes?: number; readerUrl?: string; cacheMs?: number };
  /** Most rows a metrics answer returns (default 250,000). */
  maxRows?: number;
  /** fastify's logger option (default: warnings and errors). */
  logger?: boolean | { level: string };
  /**
   * The Redis every API instance shares, and its key prefix: the query cache, live push (speed
   * commit notices) and rate limits live there. Without it those are off and GET /v1/live answers 503.
   */
  redis?: { client: Redis; prefix: string };
  /** Lifetime of cached metrics answers (default 300 s; 0: no cache). */
  cacheTtlSeconds?: number;
  /** API keys (needs `redis`). Without it every route is open: tests, and TIDEWATER_AUTH=0. */
  auth?: { keys: KeyStore; rateLimitPerMinute?: number };
  /** Kafka for POST /v1/events; without it the route answers 503. */
  ingest?: IngestOptions;
  /** Most updates per second one live subscription receives (default 4). */
  liveMaxRate?: number;
  /**
   * How far back hours below the watermark are answered from the speed view when it holds late
   * events the batch view lacks (default 168 h).
   */
  speedRetentionHours?: number;
}

export interface BoundaryState extends Boundary {
  batchVersion: number | null;
  lakeVersion: number | null;
  /** The newest batch version loaded, below the watermark or not (a correction moves only this). */
  loadedBatchVersion: number | null;
}

export interface Provenance {
  /** The lake's newest committed version (null before its first commit). */
  lakeVersion: number | null;
  /** Newest event time the speed layer holds, and how old it is. */
  speed: { newestEventTime: string | null; ageSeconds: number | null };
  quarantined: { total: number; byRule: Record<string, number>; basis: 'rejected_at' } | null;
}

export class ServingContext {
  readonly clickhouse: ClickHouseClient;
  readonly catalog: Catalog;
  readonly dataDir: string;
  readonly lakeDir: string;
  readonly viewsDir: string;
  readonly maxRows: number;
  readonly queryCache: QueryCache | undefined;
  readonly speedRetentionMs: number;
  private acceptedBatchTable: Promise<unknown> | undefined;
  private quarantineStore: Promise<QuarantineStore> | undefined;

  constructor(readonly options: ServingOptions) {
    this.clickhouse = options.clickhouse;
    this.catalog = options.catalog ?? CATALOG;
    this.dataDir = options.dataDir;
    this.lakeDir = lakeTableDir(options.dataDir);
    this.viewsDir = batchViewsDir(options.dataDir);
    this.maxRows = options.maxRows ?? 250_000;
    this.speedRetentionMs = (options.speedRetentionHours ?? 168) * 3_600_000;
    this.queryCache =
      options.redis &&
      new QueryCache(options.redis.client, options.redis.prefix, options.cacheTtlSeconds ?? 300);
  }

  metric(name: string): Metric {
    const metric = this.catalog.find((m) => m.name === name);
    if (!metric)
      throw notFound(`unknown metric "${name}"; known: ${this.catalog.map((m) => m.name).join(', ')}`);
    return metric;
  }

  /** The batch watermark as stored by the last batch run; undefined before the first. */
  boundary(): BoundaryState | undefined {
    const state = readWatermark(this.viewsDir);
    if (!state) return undefined;
    return {
      watermark: Date.parse(state.watermark),
      since: Date.parse(state.since),
      batchVersion: state.batchVersion,
      lakeVersion: state.lakeVersion,
      loadedBatchVersion: state.loadedBatchVersion ?? state.batchVersion,
    };
  }

  private readonly scannedCorrections = ttlCache(1_000, async () => {
    const state = readWatermark(this.viewsDir);
    const boundary = state && { since: Date.parse(state.since), watermark: Date.parse(state.watermark) };
    return pendingCorrections(this.viewsDir, readCorrections(this.viewsDir), boundary);
  });

  /**
   * Hours of the range below the watermark, within the speed view's retention, where the speed view
   * holds accepted events the batch view lacks (none when the catalog has no accepted_events).
   */
  async lateHours(range: { from: number; to: number }, boundary: Boundary | undefined): Promise<LateHour[]> {
    const accepted = this.catalog.find((m) => m.name === ACCEPTED_EVENTS);
    const window = comparedWindow(range, boundary, this.speedRetentionMs, Date.now());
    if (!accepted || !window) return [];
    // Batch views loaded before the catalog had the metric left no table of it: an empty one
    // compares as "the batch view lacks everything", and the speed view answers what it holds.
    this.acceptedBatchTable ??= this.clickhouse.command({ query: batchViewDdl(accepted) }).catch((error) => {
      this.acceptedBatchTable = undefined;
      throw error;
    });
    await this.acceptedBatchTable;
    return lateHours(this.clickhouse, accepted, window);
  }

  /** Days below the watermark whose late lake rows the correction scan found no batch view read yet. */
  corrections(): Promise<PendingDay[]> {
    return this.scannedCorrections('').catch(() => []);
  }

  // max(event_time) of the raw table is answered from its parts' min/max index (ClickHouse's
  // implicit _minmax_count_projection; event_time is in the partition key), not by a scan.
  private readonly newestEvent = ttlCache(1_000, async () => {
    const result = await this.clickhouse.query({
      query: `SELECT toString(max(${ch.quote('event_time')})) AS newest, count() > 0 AS any FROM ${ch.quote(RAW_TABLE)}`,
      format: 'JSONEachRow',
    });
    const [row] = await result.json<{ newest: string; any: boolean | number }>();
    return row?.any ? Date.parse(`${row.newest.replace(' ', 'T')}Z`) : null;
  });

  // The newest version file of the Delta log: one directory listing, no commit read.
  private readonly lakeVersion = ttlCache(
    1_000,
    async () => (await listLog(this.lakeDir)).versions.at(-1) ?? null,
  );

  private readonly dimensionTables = ttlCache(60_000, () => loadPlatformDimensions(this.dataDir));

  /** The platform's dimension tables, re-read at most once a minute (as the speed layer looks). */
  dimensions(): Promise<Dimensions> {
    return this.dimensionTables('');
  }

  private readonly quarantineCounts = ttlCache(5_000, async (key) => {
    const [from, to] = key.split('/');
    const summary = await (await this.quarantine()).summary({ from, to });
    return {
      total: summary.total,
      byRule: Object.fromEntries(summary.byRule.map((r) => [r.ruleId, r.count])),
      basis: 'rejected_at' as const,
    };
  });

  /** The quarantine table's store, opened on first use. */
  quarantine(): Promise<QuarantineStore> {
    this.quarantineStore ??= openQuarantineStore(quarantineTableDir(this.dataDir));
    return this.quarantineStore;
  }

  async provenance(range: { from: number; to: number }): Promise<Provenance> {
    const [lakeVersion, newest, quarantined] = await Promise.all([
      this.lakeVersion('').catch(() => null),
      this.newestEvent('').catch(() => null),
      this.quarantineCounts(
        `${new Date(range.from).toISOString()}/${new Date(range.to).toISOString()}`,
      ).catch(() => null),
    ]);
    return {
      lakeVersion,
      speed: {
        newestEventTime: newest === null ? null : new Date(newest).toISOString(),
        ageSeconds: newest === null ? null : Math.max(0, Math.round((Date.now() - newest) / 100) / 10),
      },
      quarantined,
    };
  }

  /** Readiness probes: ClickHouse and the lake always, plus those the caller passed (Kafka, Redis). */
  probes(): Record<string, () => Promise<unknown>> {
    return {
      clickhouse: () =>
        this.clickhouse.query({ query: 'SELECT 1', format: 'JSONEachRow' }).then((r) => r.json()),
      lake: () => access(this.dataDir, constants.R_OK | constants.W_OK),
      ...this.options.probes,
    };
  }

  orchestrator(): Orchestrator | undefined {
    return this.options.orchestrator;
  }

  async close(): Promise<void> {
    if (this.quarantineStore) (await this.quarantineStore).close();
  }
}
