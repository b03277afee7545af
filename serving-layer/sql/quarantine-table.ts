// Rejected records for engineers' SQL: the quarantine Delta table's Parquet files
// (lake/quarantine-table.ts) as a ClickHouse table in a database of its own,
// `<views database>_quality`, which only the engineer and admin roles may name (sql/index.ts). It
// is made over the files of the table's newest version (a glob would also read files a compaction
// replaced, and show their records twice). The columns are those of the Delta table; a NULL reads
// as its type's default.
import type { ClickHouseClient } from '@clickhouse/client';
import { clickhouseDialect } from '../../clickhouse/index.ts';
import { quoteIdentifier } from './sessions.ts';

export const qualityDatabase = (database: string) => `${database}_quality`;

const COLUMNS = `
  rejected_at DateTime64(6, 'UTC'),
  source_topic String,
  source_partition Int32,
  source_offset Int64,
  source_key String,
  source_timestamp DateTime64(6, 'UTC'),
  event_id String,
  event_type String,
  event_time Nullable(DateTime64(6, 'UTC')),
  rule_ids Array(String),
  failures Array(Tuple(rule_id String, severity String, message String)),
  original String,
  quarantine_partition Int32,
  quarantine_offset Int64`;

/** The File engine reads a path as a glob, and `{a,b}` as either: a path must hold no glob syntax. */
const GLOB_SYNTAX = /[*?{}[\],]/;

/**
 * One glob matching exactly `files` (absolute paths): their common directory, then the rest of each
 * as alternatives (the engine finds where to list from before the first glob character).
 */
function filesGlob(files: readonly string[]): string {
  const odd = files.find((f) => GLOB_SYNTAX.test(f));
  if (odd) throw new Error(`the quarantine table's file ${odd} has glob characters (*?{}[],) in its path`);
  if (files.length === 1) return files[0] as string;
  const split = files.map((f) => f.split('/'));
  const first = split[0] as string[];
  let common = 0;
  while (common < first.length - 1 && split.every((parts) => parts[common] === first[common])) common++;
  const rest = split.map((parts) => parts.slice(common).join('/'));
  return `${first.slice(0, common).join('/')}/{${rest.join(',')}}`;
}

/** Creates or replaces the table over `files` (absolute paths); with none, a table of no rows. */
export async function createQuarantineTable(
  clickhouse: ClickHouseClient,
  database: string,
  files: readonly string[],
): Promise<void> {
  const db = quoteIdentifier(qualityDatabase(database));
  const engine =
    files.length === 0 ? 'Null' : `File(Parquet, ${clickhouseDialect.literal(filesGlob(files))})`;
  await clickhouse.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` });
  await clickhouse.command({
    query: `CREATE OR REPLACE TABLE ${db}.quarantine (${COLUMNS}) ENGINE = ${engine}`,
  });
}
