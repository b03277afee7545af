// Reads the quarantine lake table with DuckDB: listing, counts per rule and event type, one record
// with its original bytes, and the pages a replay works through.
import type { DuckDBValue } from '@duckdb/node-api';
import { type Duck, openDuck, sqlStringList } from '../../duckdb/index.ts';
import type { RawMessage, RuleFailure } from '../types.ts';
import { type BoundSql, type QuarantineFilter, whereClause } from './filter.ts';
import type { ReplayLedger } from './ledger.ts';
import { sourceId } from './message.ts';

/**
 * The quarantine table as the store reads it (a Delta table in the lake: lake/quarantine-table.ts
 * opens the store over it).
 */
export interface QuarantineRows {
  /** The Parquet files of the table's newest version (hive-partitioned by day), absolute. */
  files(): Promise<string[]>;
  close(): void;
}

export interface QuarantineListItem {
  /** `topic:partition:offset` of the source record. */
  id: string;
  source: Pick<RawMessage, 'topic' | 'partition' | 'offset' | 'timestamp'>;
  eventId: string | null;
  eventType: string | null;
  /** ISO, UTC; null when the event time was missing or unreadable. */
  eventTime: string | null;
  ruleIds: string[];
  failures: RuleFailure[];
  rejectedAt: string;
  quarantine: { partition: number; offset: string };
  /** Size of the original value; null for a message without one. */
  originalBytes: number | null;
  /** Already republished by a replay. */
  replayed: boolean;
}

export interface QuarantinedRecord extends QuarantineListItem {
  key: Buffer | null;
  original: Buffer | null;
}

export interface QuarantineSummary {
  total: number;
  byRule: { ruleId: string; count: number }[];
  byEventType: { eventType: string | null; count: number }[];
}

/** Where a replay page ends; the next page starts after it. */
export type SourceCursor = Pick<RawMessage, 'topic' | 'partition' | 'offset'>;

const ORDER = 'source_topic, source_partition, source_offset';
const SOURCE_ID = /^(.+):(\d+):(\d+)$/;

type Row = Record<string, unknown>;
const bytes = (v: unknown): Buffer | null =>
  v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : null;
const iso = (v: unknown): string | null => (v instanceof Date ? v.toISOString() : null);

function toItem(row: Row): QuarantineListItem {
  const topic = row.source_topic as string;
  const partition = row.source_partition as number;
  const offset = String(row.source_offset);
  const failures = row.failures as { rule_id: string; severity: RuleFailure['severity']; message: string }[];
  return {
    id: sourceId(topic, partition, offset),
    source: { topic, partition, offset, timestamp: (row.source_timestamp as Date).getTime() },
    eventId: row.event_id as string | null,
    eventType: row.event_type as string | null,
    eventTime: iso(row.event_time),
    ruleIds: row.rule_ids as string[],
    failures: failures.map((f) => ({ ruleId: f.rule_id, severity: f.severity, message: f.message })),
    rejectedAt: iso(row.rejected_at) as string,
    quarantine: { partition: row.quarantine_partition as number, offset: String(row.quarantine_offset) },
    originalBytes: row.original_bytes === null ? null : Number(row.original_bytes),
    replayed: row.replayed as boolean,
  };
}

const toRecord = (row: Row): QuarantinedRecord => ({
  ...toItem(row),
  key: bytes(row.source_key),
  original: bytes(row.original),
});

/** The source message as it first arrived, for re-validation and republishing. */
export const toRawMessage = (r: QuarantinedRecord): RawMessage => ({
  ...r.source,
  key: r.key,
  value: r.original,
});

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Original bytes for a reader: text when they are valid UTF-8, base64 otherwise. */
export function renderOriginal(
  original: Buffer | null,
): { encoding: 'utf8' | 'base64'; text: string } | null {
  if (original === null) return null;
  try {
    return { encoding: 'utf8', text: strictUtf8.decode(original) };
  } catch {
    return { encoding: 'base64', text: original.toString('base64') };
  }
}

function limitValue(limit: number | undefined): bigint | undefined {
  if (limit === undefined) return undefined;
  if (!Number.isInteger(limit) || limit < 1)
    throw new Error(`limit: expected a positive integer, got ${limit}`);
  return BigInt(limit);
}

export class QuarantineStore {
  private constructor(
    private readonly duck: Duck,
    private readonly rows: QuarantineRows,
    readonly ledger: ReplayLedger,
  ) {}

  static async open(rows: QuarantineRows, ledger: ReplayLedger): Promise<QuarantineStore> {
    return new QuarantineStore(await openDuck(), rows, ledger);
  }

  close(): void {
    this.duck.close();
    this.rows.close();
  }

  /** The table's files now, for readers other than DuckDB (the SQL endpoint's ClickHouse table). */
  files(): Promise<string[]> {
    return this.rows.files();
  }

  /** Matching records, oldest rejection first, without their bytes. */
  async list(filter: QuarantineFilter = {}): Promise<QuarantineListItem[]> {
    const rows = await this.query(
      filter,
      (selection) => `SELECT * FROM ${selection} ORDER BY rejected_at, ${ORDER}`,
    );
    return rows.map(toItem);
  }

  async summary(filter: QuarantineFilter = {}): Promise<QuarantineSummary> {
    const [totals] = await this.query(filter, (s) => `SELECT count(*) AS n FROM ${s}`);
    const byRule = await this.query(
      filter,
      (s) => `SELECT rule_id, count(*) AS n FROM (SELECT unnest(rule_ids) AS rule_id FROM ${s})
              GROUP BY rule_id ORDER BY n DESC, rule_id`,
    );
    const byEventType = await this.query(
      filter,
      (s) =>
        `SELECT event_type, count(*) AS n FROM ${s} GROUP BY event_type ORDER BY n DESC, event_type NULLS LAST`,
    );
    return {
      total: Number(totals?.n ?? 0),
      byRule: byRule.map((r) => ({ ruleId: r.rule_id as string, count: Number(r.n) })),
      byEventType: byEventType.map((r) => ({ eventType: r.event_type as string | null, count: Number(r.n) })),
    };
  }

  /**
   * Records by `topic:partition:offset` (at most one) or by eventId (several when the same event
   * arrived more than once), with their original bytes.
   */
  async show(id: string): Promise<QuarantinedRecord[]> {
    const m = SOURCE_ID.exec(id);
    const where: BoundSql = m
      ? {
          sql: 'source_topic = $topic AND source_partition = $partition AND source_offset = $offset',
          params: { topic: m[1] as string, partition: Number(m[2]), offset: BigInt(m[3] as string) },
        }
      : { sql: 'event_id = $id', params: { id } };
    const rows = await this.select(
      where,
      undefined,
      (s) => `SELECT * FROM ${s} ORDER BY rejected_at, ${ORDER}`,
    );
    return rows.map(toRecord);
  }

  /** How many records match, and how many of those a replay already republished. */
  async replayCounts(filter: QuarantineFilter): Promise<{ selected: number; alreadyReplayed: number }> {
    const [row] = await this.query(
      filter,
      (s) => `SELECT count(*) AS selected, count(*) FILTER (WHERE replayed) AS already FROM ${s}`,
    );
    return { selected: Number(row?.selected ?? 0), alreadyReplayed: Number(row?.already ?? 0) };
  }

  /** The next `size` matching records not yet replayed, after `cursor` in source order. */
  async replayPage(
    filter: QuarantineFilter,
    cursor: SourceCursor | undefined,
    size: number,
  ): Promise<QuarantinedRecord[]> {
    const params: Record<string, DuckDBValue> = { pageSize: BigInt(size) };
    let after = 'true';
    if (cursor) {
      after = `(${ORDER}) > ($afterTopic, $afterPartition, $afterOffset)`;
      Object.assign(params, {
        afterTopic: cursor.topic,
        afterPartition: cursor.partition,
        afterOffset: BigInt(cursor.offset),
      });
    }
    const rows = await this.query(
      filter,
      (s) => `SELECT * FROM ${s} WHERE NOT replayed AND ${after} ORDER BY ${ORDER} LIMIT $pageSize`,
      params,
    );
    return rows.map(toRecord);
  }

  private query(
    filter: QuarantineFilter,
    outer: (selection: string) => string,
    extra: Record<string, DuckDBValue> = {},
  ): Promise<Row[]> {
    const where = whereClause(filter);
    return this.select(
      { sql: where.sql, params: { ...where.params, ...extra } },
      limitValue(filter.limit),
      outer,
    );
  }

  /**
   * Runs `outer` over the selection: matching records, the first `limit` by rejection time. Each
   * source record is in the topic, and so in the table, once (the lake writer publishes the
   * consumers' rejections transactionally), so nothing is de-duplicated here: a repeat would show.
   */
  private async select(
    where: BoundSql,
    limit: bigint | undefined,
    outer: (selection: string) => string,
  ): Promise<Row[]> {
    const files = await this.rows.files();
    if (files.length === 0) return [];
    const ledger = await this.ledger.relationSql();
    const params = limit === undefined ? where.params : { ...where.params, limit };
    const selection = `(
      SELECT *, octet_length(original) AS original_bytes,
        EXISTS (SELECT 1 FROM ${ledger} AS l
                WHERE l.sourceTopic = q.source_topic AND l.sourcePartition = q.source_partition
                  AND l.sourceOffset = q.source_offset) AS replayed
      FROM read_parquet(${sqlStringList(files)}, hive_partitioning = true, union_by_name = true) AS q
      WHERE ${where.sql}
      ORDER BY rejected_at, ${ORDER}
      ${limit === undefined ? '' : 'LIMIT $limit'}
    )`;
    const reader = await this.duck.connection.runAndReadAll(outer(selection), params);
    return reader.getRowObjectsJS() as Row[];
  }
}
