// Idempotent inserts of raw rows: a retry of the same block with the same token is dropped by the
// raw table and by every metric view (needs the tables' dedup window, see ddl.ts).
//
// The body is RowBinary (row-binary.ts). chDB only takes a query as text, so the embedded engine
// reads the body from a file (`file()`): a transient one, or a grouped insert's staged block
// (sink.ts); a server gets it as the HTTP body (`input()`).
import { stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import type { RawRow } from '../contracts/catalog.ts';
import { insertStagingDir } from './clickhouse.ts';
import { clickhouseDialect } from './clickhouse-dialect.ts';
import { RAW_TABLE } from './ddl.ts';
import { encodeRows, STRUCTURE } from './row-binary.ts';

/**
 * Inserts `rows` as one block deduplicated by `token` (derive it from the Kafka topic, partition and
 * offset range; a retry must send the same rows in the same order).
 */
export function insertRaw(client: ClickHouseClient, rows: readonly RawRow[], token: string): Promise<void> {
  return insertEncoded(client, rows.length > 0 ? encodeRows(rows) : undefined, token);
}

let staged = 0;

/**
 * Inserts a body from encodeRows (undefined: no rows, nothing to insert) under `token`. Settings
 * travel in the INSERT's own SETTINGS clause rather than `clickhouse_settings`: the embedded chDB
 * connection turns those into session-wide SETs that would leak the token into later inserts.
 */
export async function insertEncoded(
  client: ClickHouseClient,
  body: Uint8Array | undefined,
  token: string,
): Promise<void> {
  const into = intoRaw(token);
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
    await insertFile(client, file, token);
  } finally {
    await unlink(file).catch(() => undefined);
  }
}

/** Inserts a body from encodeRows that the embedded engine reads from `file` (empty: no rows). */
export async function insertFile(client: ClickHouseClient, file: string, token: string): Promise<void> {
  const into = intoRaw(token);
  if ((await stat(file)).size === 0) return;
  await client.command({
    query: `${into} SELECT * FROM file(${literal(file)}, 'RowBinary', ${literal(STRUCTURE)})`,
  });
}

const literal = clickhouseDialect.literal;

function intoRaw(token: string): string {
  if (token === '') throw new Error('an insert needs a non-empty deduplication token');
  return [
    `INSERT INTO ${clickhouseDialect.quote(RAW_TABLE)} SETTINGS insert_deduplicate = 1,`,
    `insert_deduplication_token = ${literal(token)}, deduplicate_blocks_in_dependent_materialized_views = 1`,
  ].join(' ');
}
