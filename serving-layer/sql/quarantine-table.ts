// Rejected records for engineers' SQL: the quarantine table's Parquet files (quality/quarantine)
// as a ClickHouse table in a database of its own, `<views database>_quality`, which only the
// engineer and admin roles may name (sql/index.ts). It reads the files committed at query time;
// files being written are hidden by their names. The columns are those the quarantine writer
// writes (quality/quarantine/part-file.ts); a NULL reads as its type's default.
import { resolve } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
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

/** Creates or replaces the table over the files under `dir` (the quarantine table's root). */
export async function createQuarantineTable(
  clickhouse: ClickHouseClient,
  database: string,
  dir: string,
): Promise<void> {
  const db = quoteIdentifier(qualityDatabase(database));
  const files = `${resolve(dir)}/day=*/*.parquet`.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
  await clickhouse.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` });
  await clickhouse.command({
    query: `CREATE OR REPLACE TABLE ${db}.quarantine (${COLUMNS}) ENGINE = File(Parquet, '${files}')`,
  });
}
