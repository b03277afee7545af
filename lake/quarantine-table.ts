// The lake's quarantine table: every rejected record with its rules and its original bytes, a Delta
// table beside the events table, written by the same table machinery (quarantine-writer.ts) and
// read through its snapshots, so a foreign Delta reader opens it too and compaction never shows a
// record twice. Tables written before it was a Delta table (Parquet files named by the quarantine
// offsets they held) are converted once when a writer opens it.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sqlStringList } from '../duckdb/index.ts';
import { QuarantineStore, ReplayLedger } from '../quality/index.ts';
import { listLog } from './delta-log/index.ts';
import { appendRows } from './parquet/stage.ts';
import {
  type ColumnDef,
  ident,
  instantFromMs,
  type TableSchema,
  utcInstant,
  utcTimestamp,
} from './schema.ts';
import { type LakeTable, type LakeTableOptions, openTable, type Stage } from './table.ts';

const text = (name: string, nullable = false): ColumnDef => ({ name, type: 'string', nullable });
const instant = (name: string, nullable = false): ColumnDef => ({ name, type: 'timestamp', nullable });

export const QUARANTINE_SCHEMA: TableSchema = {
  name: 'quarantine',
  columns: [
    instant('rejected_at'),
    text('source_topic'),
    { name: 'source_partition', type: 'integer', nullable: false },
    { name: 'source_offset', type: 'long', nullable: false },
    { name: 'source_key', type: 'binary', nullable: true },
    instant('source_timestamp'),
    text('event_id', true),
    text('event_type', true),
    // As the gate found it; a value no reader could parse stays readable in the original.
    instant('event_time', true),
    {
      name: 'rule_ids',
      type: { type: 'array', elementType: 'string', containsNull: false },
      nullable: false,
    },
    {
      name: 'failures',
      type: {
        type: 'array',
        containsNull: false,
        elementType: {
          type: 'struct',
          fields: [
            { name: 'rule_id', type: 'string', nullable: false },
            { name: 'severity', type: 'string', nullable: false },
            { name: 'message', type: 'string', nullable: false },
          ],
        },
      },
      nullable: false,
    },
    { name: 'original', type: 'binary', nullable: true },
    { name: 'quarantine_partition', type: 'integer', nullable: false },
    { name: 'quarantine_offset', type: 'long', nullable: false },
  ],
  // strftime of a TIMESTAMPTZ goes through ICU: the UTC wall clock is the same.
  partitionColumns: [
    { name: 'day', type: 'date', expr: `strftime(${utcTimestamp('rejected_at')}, '%Y-%m-%d')` },
  ],
};

export const quarantineTableDir = (dataDir: string): string => join(dataDir, 'lake', 'quarantine');

/**
 * One row as the writer stages it: times in ms since the epoch, bytes in base64, as the quarantine
 * topic carries them.
 */
export interface QuarantineRow {
  rejected_at: number;
  source_topic: string;
  source_partition: number;
  /** Decimal, as Kafka's offsets travel: exact up to the column's 2^63 - 1. */
  source_offset: string;
  source_key: string | null;
  source_timestamp: number;
  event_id: string | null;
  event_type: string | null;
  event_time: string | null;
  rule_ids: string[];
  failures: { rule_id: string; severity: string; message: string }[];
  original: string | null;
  quarantine_partition: number;
  quarantine_offset: number;
}

/**
 * The staged columns, in QuarantineRow's order, as the appender takes them: integers as DOUBLE (no
 * BigInt per value; times in ms and the quarantine topic's own offsets are below 2^53), the source
 * offset as its decimal text, the two lists as JSON text.
 */
const STAGED_COLUMNS = [
  ['rejected_at', 'DOUBLE'],
  ['source_topic', 'VARCHAR'],
  ['source_partition', 'INTEGER'],
  ['source_offset', 'VARCHAR'],
  ['source_key', 'VARCHAR'],
  ['source_timestamp', 'DOUBLE'],
  ['event_id', 'VARCHAR'],
  ['event_type', 'VARCHAR'],
  ['event_time', 'VARCHAR'],
  ['rule_ids', 'VARCHAR'],
  ['failures', 'VARCHAR'],
  ['original', 'VARCHAR'],
  ['quarantine_partition', 'INTEGER'],
  ['quarantine_offset', 'DOUBLE'],
] as const satisfies readonly (readonly [keyof QuarantineRow, string])[];

const FAILURES = `'[{"rule_id": "VARCHAR", "severity": "VARCHAR", "message": "VARCHAR"}]'`;

/** The staged rows typed as the table declares them. */
const TYPED_SELECT = `SELECT
    ${instantFromMs('rejected_at')} AS rejected_at,
    source_topic, source_partition, CAST(source_offset AS BIGINT) AS source_offset,
    from_base64(source_key) AS source_key,
    ${instantFromMs('source_timestamp')} AS source_timestamp,
    event_id, event_type,
    TRY_CAST(event_time AS TIMESTAMPTZ) AS event_time,
    from_json(rule_ids, '["VARCHAR"]') AS rule_ids, from_json(failures, ${FAILURES}) AS failures,
    from_base64(original) AS original,
    quarantine_partition, CAST(quarantine_offset AS BIGINT) AS quarantine_offset`;

const RAW_TABLE = 'quarantine_staged';
const STAGE_TABLE = 'quarantine_stage';

/**
 * DuckDB's JSON reader refuses lone UTF-16 surrogates, which a hostile event's id or type can carry
 * into a rejection: the lists' JSON text keeps U+FFFD there (the appender does so for the other
 * text columns; the original bytes stay exact).
 */
const wellFormed = (_key: string, value: unknown) =>
  typeof value === 'string' ? value.toWellFormed() : value;

/**
 * Stages rows through the appender, then types them once into a DuckDB table, which the staging
 * then counts, partitions and writes. Each row crosses into DuckDB value by value, not as a JSON
 * line for DuckDB to parse again: serializing a rejection of ~1.2 kB cost the writer more than
 * everything else it did with it.
 */
export function stageQuarantineRows(rows: readonly QuarantineRow[]): Stage {
  return async (connection) => {
    await connection.run(
      `CREATE OR REPLACE TEMP TABLE ${RAW_TABLE} (${STAGED_COLUMNS.map(([name, type]) => `${name} ${type}`).join(', ')})`,
    );
    await appendRows(connection, RAW_TABLE, rows.length, (column, row) => {
      const value = (rows[row] as QuarantineRow)[
        (STAGED_COLUMNS[column] as (typeof STAGED_COLUMNS)[number])[0]
      ];
      return Array.isArray(value) ? JSON.stringify(value, wellFormed) : value;
    });
    await connection.run(`CREATE OR REPLACE TEMP TABLE ${STAGE_TABLE} AS ${TYPED_SELECT} FROM ${RAW_TABLE}`);
    await connection.run(`DROP TABLE ${RAW_TABLE}`);
    return { rows: `SELECT * FROM ${STAGE_TABLE}`, partitionKeys: `SELECT rejected_at FROM ${STAGE_TABLE}` };
  };
}

/** Files of the table before it was a Delta table: `day=<date>/part-<partition>-<first>-<last>.parquet`. */
const LEGACY_FILE = /^part-(\d+)-(\d+)-(\d+)\.parquet$/;

/** Marks the version holding the converted files (its txn version is 1). */
export const LEGACY_APP_ID = 'tidewater.quarantine-part-files';

/** Per quarantine partition, where the converted files end: a writer resumes there (quarantine-writer.ts). */
export const legacyAppId = (partition: number): string => `${LEGACY_APP_ID}:${partition}`;

async function legacyFiles(root: string): Promise<string[]> {
  const days = await readdir(root).catch(() => [] as string[]);
  const files: string[] = [];
  for (const day of days.filter((d) => d.startsWith('day='))) {
    for (const name of await readdir(join(root, day)).catch(() => [] as string[]))
      if (LEGACY_FILE.test(name)) files.push(join(root, day, name));
  }
  return files;
}

/**
 * Moves the rows of the table's files from before it was a Delta table into it, in one version that
 * also records (as txns) where each quarantine partition's converted rows end, then deletes those
 * files. A crash before the commit leaves them to the next open; after it, the version says they
 * are converted and the next open only deletes them.
 */
async function convertLegacy(table: LakeTable, log: (line: string) => void): Promise<void> {
  const files = await legacyFiles(table.dir);
  if (files.length === 0) return;
  if ((await table.txnVersion(LEGACY_APP_ID)) === undefined) {
    log(`quarantine table ${table.dir}: converting ${files.length} Parquet files to the Delta table`);
    const offsets = new Map<number, number>();
    for (const file of files) {
      const [, partition, , last] = LEGACY_FILE.exec(
        file.slice(file.lastIndexOf('/') + 1),
      ) as RegExpExecArray;
      offsets.set(Number(partition), Math.max(offsets.get(Number(partition)) ?? -1, Number(last)));
    }
    // Older files hold TIMESTAMP (not adjusted to UTC) where newer ones hold TIMESTAMPTZ: the same
    // instants either way (utcInstant).
    const columns = QUARANTINE_SCHEMA.columns.map((c) =>
      c.type === 'timestamp' ? `${utcInstant(ident(c.name))} AS ${ident(c.name)}` : ident(c.name),
    );
    const select = `SELECT ${columns.join(', ')} FROM read_parquet(${sqlStringList(files)},
      hive_partitioning = false, union_by_name = true)`;
    try {
      await table.appendBatch(async () => ({ rows: select, partitionKeys: select }), {
        txn: [
          { appId: LEGACY_APP_ID, version: 1 },
          ...[...offsets].map(([partition, last]) => ({ appId: legacyAppId(partition), version: last + 1 })),
        ],
      });
    } catch (error) {
      // Another process converted them meanwhile: its version holds them.
      if ((await table.txnVersion(LEGACY_APP_ID)) === undefined) throw error;
    }
  }
  await Promise.all(files.map((f) => rm(f, { force: true })));
  log(`quarantine table ${table.dir}: ${files.length} converted Parquet files removed`);
}

/** Opens (creating, and converting an older layout) the quarantine table under `root`. */
export async function openQuarantineTable(
  root: string,
  log: (line: string) => void = console.error,
  options: LakeTableOptions = {},
): Promise<LakeTable> {
  const table = await openTable(root, QUARANTINE_SCHEMA, options);
  try {
    await convertLegacy(table, log);
    return table;
  } catch (error) {
    table.close();
    throw error;
  }
}

/**
 * The quarantine store over the table under `root`. A table never written reads as empty, and
 * reading it creates nothing (a table of the older layout is converted: its records are shown).
 */
export async function openQuarantineStore(root: string): Promise<QuarantineStore> {
  let table: Promise<LakeTable> | undefined;
  const files = async () => {
    if (!table && (await listLog(root)).versions.length === 0 && (await legacyFiles(root)).length === 0)
      return [];
    table ??= openQuarantineTable(root);
    table.catch(() => {
      table = undefined;
    });
    return (await table).filesAt();
  };
  return QuarantineStore.open(
    {
      files,
      close: () => void table?.then((t) => t.close()).catch(() => undefined),
    },
    ReplayLedger.forTable(root),
  );
}
