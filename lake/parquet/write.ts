// Writes typed rows as zstd Parquet under hive partition directories. Files get fresh uuid names
// and nothing refers to them until a commit does, so a crash here only leaves unreferenced files.
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { sqlString, sqlStringList } from '../../duckdb/index.ts';
import { type TableSchema, utcInstant } from '../schema.ts';
import { ident, type StagedBatch } from './stage.ts';

// zstd level 1 rather than DuckDB's default 3: on the events table about 20% less time to write
// and no larger files (50k events: 222 vs 279 ms, 4.50 vs 4.57 MB; docs/lake.md). Row groups of
// 32,768 rows rather than 122,880: DuckDB's writer holds a row group until it is written, so a
// compaction of a soak day's 60 files peaked at +385-402 MB of RSS against +650 (one job in a child
// process, the day's files written by the older code; bench:jobs on files written by this code:
// +322), in 15-20% less time, the files 0.7% larger.
const PARQUET = 'FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, ROW_GROUP_SIZE 32768';
// The streaming writes' files live until the next compaction, so they also give up dictionaries of
// more than 64 KB (ids, sessions, the event JSON), which DuckDB builds before it finds they do not
// pay: 50k events flattened and written in 218 ms against 304 (239 with the row groups alone), the
// file 0.7% larger. Compaction keeps the dictionaries for the files that stay.
const STREAMING_PARQUET = `${PARQUET}, STRING_DICTIONARY_PAGE_SIZE_LIMIT 65536`;

/** Partition values usable as they are in a hive directory name: no escaping, no `.` or `..`. */
const PLAIN_VALUE = /^[0-9A-Za-z][0-9A-Za-z._-]*$/;

/** Writes the batch's rows partitioned by the schema; returns the absolute file paths. */
export async function writePartitioned(
  connection: DuckDBConnection,
  tableDir: string,
  schema: TableSchema,
  batch: StagedBatch,
): Promise<string[]> {
  const partitions = schema.partitionColumns;
  const derived = partitions.map((p) => `${p.expr} AS ${ident(p.name)}`).join(', ');
  const found = await connection.runAndReadAll(`SELECT DISTINCT ${derived} FROM (${batch.partitionKeys})`);
  const values = found.getRowsJS();
  const [only] = values;
  if (values.length === 1 && only?.every((v) => typeof v === 'string' && PLAIN_VALUE.test(v))) {
    // The usual batch falls in one partition: a plain COPY to its directory. DuckDB's partitioned
    // COPY buffers every row once more on the way (~40 ms of ~220 per 50k events).
    const dir = join(tableDir, ...partitions.map((p, i) => `${p.name}=${only[i]}`));
    await mkdir(dir, { recursive: true });
    const file = join(dir, `part-${randomUUID()}.parquet`);
    const copied = await connection.runAndReadAll(
      `COPY (${batch.rows}) TO ${sqlString(file)} (${STREAMING_PARQUET})`,
    );
    if (Number(copied.getRowsJS()[0]?.[0]) > 0) return [file];
    await rm(file, { force: true });
    return [];
  }
  const reader = await connection.runAndReadAll(
    `COPY (SELECT *, ${derived} FROM (${batch.rows}))
     TO ${sqlString(tableDir)} (${STREAMING_PARQUET}, PARTITION_BY (${partitions.map((p) => ident(p.name)).join(', ')}),
       FILENAME_PATTERN 'part-{uuid}', APPEND, RETURN_FILES)`,
  );
  const [row] = reader.getRowObjectsJS();
  return (row?.Files as string[] | undefined) ?? [];
}

/**
 * Rewrites the data columns of `files` (one partition's) as one new file in `partitionDir`, each
 * column as the schema declares it: files written before timestamps were adjusted to UTC come out
 * adjusted (the same instants).
 */
export async function rewriteFiles(
  connection: DuckDBConnection,
  partitionDir: string,
  schema: TableSchema,
  files: readonly string[],
): Promise<string> {
  await mkdir(partitionDir, { recursive: true });
  const target = join(partitionDir, `part-${randomUUID()}.parquet`);
  const columns = schema.columns.map((c) =>
    c.type === 'timestamp' ? `${utcInstant(ident(c.name))} AS ${ident(c.name)}` : ident(c.name),
  );
  await connection.run(
    `COPY (SELECT ${columns.join(', ')} FROM read_parquet(${sqlStringList(files)}, hive_partitioning = false, union_by_name = true))
     TO ${sqlString(target)} (${PARQUET})`,
  );
  return target;
}

/**
 * Those of `files` holding a timestamp column not adjusted to UTC (written before the lake wrote
 * Delta `timestamp` as the protocol maps it); read from the footers only.
 */
export async function filesWithLocalTimestamps(
  connection: DuckDBConnection,
  schema: TableSchema,
  files: readonly string[],
): Promise<Set<string>> {
  const names = schema.columns.filter((c) => c.type === 'timestamp').map((c) => c.name);
  if (files.length === 0 || names.length === 0) return new Set();
  const reader = await connection.runAndReadAll(
    `SELECT DISTINCT file_name FROM parquet_schema(${sqlStringList(files)})
     WHERE name IN (${names.map(sqlString).join(', ')}) AND logical_type NOT LIKE '%isAdjustedToUTC=1%'`,
  );
  return new Set(reader.getRowsJS().map(([file]) => file as string));
}
