// Idempotent inserts of raw rows: a retry of the same block with the same token is dropped by the
// raw table and by every metric view (needs the tables' dedup window, see ddl.ts).
import type { ClickHouseClient } from '@clickhouse/client';
import { RAW_COLUMN_NAMES, type RawRow } from '../contracts/catalog.ts';
import { clickhouseDialect } from './clickhouse-dialect.ts';
import { RAW_TABLE } from './ddl.ts';

/**
 * `rows` as columns in table order, each a plain array of values (JSONCompactColumns). ClickHouse
 * parses that in about 80% of the CPU time of the same rows as JSONCompactEachRow lines, and JS
 * builds 30 arrays per block instead of one per row. chDB cannot take RowBinary through
 * @clickhouse/client, which hands it the body as text.
 */
const toColumns = new Function(
  'rows',
  [
    'const n = rows.length;',
    ...RAW_COLUMN_NAMES.map((_, k) => `const c${k} = new Array(n);`),
    'for (let i = 0; i < n; i++) {',
    '  const row = rows[i];',
    ...RAW_COLUMN_NAMES.map((name, k) => `  c${k}[i] = row[${JSON.stringify(name)}];`),
    '}',
    `return [${RAW_COLUMN_NAMES.map((_, k) => `c${k}`).join(', ')}];`,
  ].join('\n'),
) as (rows: readonly RawRow[]) => unknown[][];

/** The insert body of `rows`, deterministic: a retry built from the same rows is byte-identical. */
export function encodeRows(rows: readonly RawRow[]): string {
  return JSON.stringify(toColumns(rows));
}

/**
 * Inserts `rows` as one block deduplicated by `token` (derive it from the Kafka topic, partition and
 * offset range; a retry must send the same rows in the same order).
 */
export function insertRaw(client: ClickHouseClient, rows: readonly RawRow[], token: string): Promise<void> {
  return insertEncoded(client, rows.length > 0 ? encodeRows(rows) : undefined, token);
}

/**
 * Inserts a body from encodeRows (undefined: no rows, nothing to insert) under `token`. Settings
 * travel in the INSERT's own SETTINGS clause rather than `clickhouse_settings`: the embedded chDB
 * connection turns those into session-wide SETs that would leak the token into later inserts.
 */
export async function insertEncoded(
  client: ClickHouseClient,
  body: string | undefined,
  token: string,
): Promise<void> {
  if (token === '') throw new Error('an insert needs a non-empty deduplication token');
  if (body === undefined) return;
  const settings = [
    'insert_deduplicate = 1',
    `insert_deduplication_token = ${clickhouseDialect.literal(token)}`,
    'deduplicate_blocks_in_dependent_materialized_views = 1',
  ].join(', ');
  await client.command({
    query: `INSERT INTO ${clickhouseDialect.quote(RAW_TABLE)} SETTINGS ${settings} FORMAT JSONCompactColumns\n${body}`,
  });
}
