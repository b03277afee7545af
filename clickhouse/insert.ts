// Idempotent inserts of RowBinary bodies: a retry of the same block with the same token is dropped by
// the table and by every materialized view on it (needs the tables' dedup window, see
// speed-layer/ddl.ts).
//
// The body is RowBinary (row-binary.ts). chDB only takes a query as text, so the embedded engine
// reads the body from a file (`file()`): a transient one, or a grouped insert's staged block
// (sink.ts); a server gets it as the HTTP body (`input()`). insertSelectFromFiles does the same for
// files another engine wrote (the batch views' Parquet), so that no row passes through JS.
import { createReadStream } from 'node:fs';
import { stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import { insertStagingDir } from './client.ts';
import { clickhouseDialect } from './dialect.ts';
import { STRUCTURE } from './row-binary.ts';

let staged = 0;

/**
 * Inserts into `table` a body from encodeRows (undefined: no rows, nothing to insert) as one block
 * deduplicated by `token` (derive it from the Kafka topic, partition and offset range; a retry must
 * send the same rows in the same order). Settings
 * travel in the INSERT's own SETTINGS clause rather than `clickhouse_settings`: the embedded chDB
 * connection turns those into session-wide SETs that would leak the token into later inserts.
 */
export async function insertEncoded(
  client: ClickHouseClient,
  table: string,
  body: Uint8Array | undefined,
  token: string,
): Promise<void> {
  const into = intoTable(table, token);
  if (body === undefined) return;
  const staging = insertStagingDir(client);
  if (staging === undefined) {
    const { stream } = await client.exec({
      query: `${into} SELECT * FROM input(${literal(STRUCTURE)}) FORMAT RowBinary`,
      values: Readable.from([Buffer.from(body.buffer, body.byteOffset, body.byteLength)]),
    });
    await finished(stream.resume());
    return;
  }
  const file = join(staging, `${process.pid}-${staged++}.bin`);
  await writeFile(file, body);
  try {
    await insertFile(client, table, file, token);
  } finally {
    await unlink(file).catch(() => undefined);
  }
}

/** Inserts into `table` a body from encodeRows that the embedded engine reads from `file` (empty: no rows). */
export async function insertFile(
  client: ClickHouseClient,
  table: string,
  file: string,
  token: string,
): Promise<void> {
  const into = intoTable(table, token);
  if ((await stat(file)).size === 0) return;
  await insertSelect(client, `${into} SELECT *`, { file, format: 'RowBinary', structure: STRUCTURE });
}

interface RowsFile {
  file: string;
  /** A ClickHouse input format, e.g. JSONEachRow. */
  format: string;
  /** The file's columns, `name Type, ...`. */
  structure: string;
}

/**
 * `<statement> FROM` the rows of a file (an INSERT ... SELECT): read by the embedded engine,
 * streamed to a server.
 */
async function insertSelect(client: ClickHouseClient, statement: string, rows: RowsFile): Promise<void> {
  const { file, format, structure } = rows;
  if (insertStagingDir(client) !== undefined) {
    await client.command({
      query: `${statement} FROM file(${literal(file)}, ${literal(format)}, ${literal(structure)})`,
    });
    return;
  }
  const { stream } = await client.exec({
    query: `${statement} FROM input(${literal(structure)}) FORMAT ${format}`,
    values: createReadStream(file),
  });
  await finished(stream.resume());
}

export interface InsertSelectFromFiles {
  table: string;
  /** The SELECT list over the files' columns, in the table's column order. */
  select: string;
  format: string;
  /** The columns read from each file, `name Type, ...` (the engine converts the file's types to these). */
  structure: string;
  files: readonly string[];
}

/**
 * How a load of files runs: beside the consumers (the hourly recompute's load of a day's batch view),
 * so on one thread, in blocks of 8,192 rows, squashed into parts of 65,536 rows or 16 MiB, rather
 * than ClickHouse's defaults (Parquet read 65,409 rows at a time, parts squashed up to 1,048,449 rows
 * or 256 MiB). A day of the soak's traffic recomputed and loaded then peaked at +476 MB of RSS
 * against +546 (`npm run bench:jobs`, medians of 3, side by side, 2026-12-06), in the same time;
 * each setting alone made no difference, and most of the rest is the recompute's DuckDB (+430 MB
 * without the load).
 */
const FILE_LOAD_SETTINGS = [
  'max_threads = 1',
  'max_insert_threads = 1',
  'max_block_size = 8192',
  'input_format_parquet_max_block_size = 8192',
  'min_insert_block_size_rows = 65536',
  'min_insert_block_size_bytes = 16777216',
].join(', ');

/**
 * `INSERT INTO table SELECT select` over the rows of each file, one insert a file: the embedded
 * engine reads the file where it is, a server gets it streamed as the body.
 */
export async function insertSelectFromFiles(
  client: ClickHouseClient,
  { table, select, format, structure, files }: InsertSelectFromFiles,
): Promise<void> {
  const statement = `INSERT INTO ${clickhouseDialect.quote(table)} SETTINGS ${FILE_LOAD_SETTINGS} SELECT ${select}`;
  for (const file of files) await insertSelect(client, statement, { file, format, structure });
}

const literal = clickhouseDialect.literal;

function intoTable(table: string, token: string): string {
  if (token === '') throw new Error('an insert needs a non-empty deduplication token');
  return [
    `INSERT INTO ${clickhouseDialect.quote(table)} SETTINGS insert_deduplicate = 1,`,
    `insert_deduplication_token = ${literal(token)}, deduplicate_blocks_in_dependent_materialized_views = 1`,
  ].join(' ');
}
