// Idempotent inserts of raw rows: a retry of the same block with the same token is dropped by the
// raw table and by every metric view (needs the tables' dedup window, see ddl.ts).
//
// The body is RowBinary, written by code generated from the raw columns. ClickHouse parses it for
// about two thirds of the CPU of the same rows as JSON, and writing it costs the consumer's main
// thread less than JSON.stringify did. chDB only takes a query as text, so the embedded engine
// reads the body from a staging file (`file()`); a server gets it as the HTTP body (`input()`).
// Text-like columns travel as String and ClickHouse casts them to the table's types (UUID,
// LowCardinality, DateTime64) on its own threads rather than on the consumer's.
import { unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import { type LogicalType, RAW_COLUMN_NAMES, RAW_COLUMNS, type RawRow } from '../contracts/catalog.ts';
import { insertStagingDir } from './clickhouse.ts';
import { clickhouseDialect } from './clickhouse-dialect.ts';
import { RAW_TABLE } from './ddl.ts';

const WIRE_TYPES: Record<LogicalType, 'Int64' | 'UInt64' | 'Bool' | 'String'> = {
  int64: 'Int64',
  uint64: 'UInt64',
  bool: 'Bool',
  uuid: 'String',
  string: 'String',
  label: 'String',
  timestamp: 'String',
  minute: 'String',
};

/** The body's columns as a `file()` / `input()` structure. */
const STRUCTURE = RAW_COLUMN_NAMES.map(
  (name) => `${clickhouseDialect.quote(name)} ${WIRE_TYPES[RAW_COLUMNS[name].type]}`,
).join(', ');

/** Room every row gets before it is written: a row of short strings (the fast path) fits in it. */
const ROW_HEADROOM = RAW_COLUMN_NAMES.length * 130;

/** A String at `o` (varint length, UTF-8 bytes); the offset after it, or -1 when `buf` is too small. */
function writeString(buf: Buffer, o: number, s: string): number {
  const n = s.length;
  if (n < 128) {
    let p = o + 1;
    for (let i = 0; i < n; i++) {
      const code = s.charCodeAt(i);
      if (code >= 128) return writeLongString(buf, o, s);
      buf[p++] = code;
    }
    buf[o] = n;
    return p;
  }
  return writeLongString(buf, o, s);
}

function writeLongString(buf: Buffer, o: number, s: string): number {
  const bytes = Buffer.byteLength(s);
  if (o + bytes + 10 > buf.length) return -1;
  let length = bytes;
  while (length >= 128) {
    buf[o++] = (length & 127) | 128;
    length = Math.floor(length / 128);
  }
  buf[o++] = length;
  return o + buf.write(s, o);
}

function writeColumn(name: string, type: LogicalType): string {
  const value = `row[${JSON.stringify(name)}]`;
  switch (WIRE_TYPES[type]) {
    case 'Int64':
    case 'UInt64': {
      const high = WIRE_TYPES[type] === 'Int64' ? 'writeInt32LE' : 'writeUInt32LE';
      // Integers here are below 2^53: the low word, then the (signed) high word.
      return `{ const n = ${value}; buf.writeUInt32LE(n >>> 0, o); buf.${high}(Math.floor(n / 4294967296), o + 4); o += 8; }`;
    }
    case 'Bool':
      return `buf[o++] = ${value} ? 1 : 0;`;
    case 'String':
      return `o = writeString(buf, o, ${value}); if (o < 0) return -1;`;
  }
}

/** Writes `rows` into `buf` from 0; the end offset, or -1 when `buf` is too small. */
const writeRows = new Function(
  'writeString',
  [
    'return (rows, buf) => {',
    'let o = 0;',
    'for (let i = 0; i < rows.length; i++) {',
    '  const row = rows[i];',
    `  if (o + ${ROW_HEADROOM} > buf.length) return -1;`,
    ...RAW_COLUMN_NAMES.map((name) => `  ${writeColumn(name, RAW_COLUMNS[name].type)}`),
    '}',
    'return o;',
    '};',
  ].join('\n'),
)(writeString) as (rows: readonly RawRow[], buf: Buffer) => number;

/** Reused by every encode (encoding is synchronous); grows to the largest body seen. */
let scratch = Buffer.allocUnsafe(1 << 20);

/** The insert body of `rows`, deterministic: a retry built from the same rows is byte-identical. */
export function encodeRows(rows: readonly RawRow[]): Buffer {
  let end = writeRows(rows, scratch);
  while (end < 0) {
    scratch = Buffer.allocUnsafe(scratch.length * 2);
    end = writeRows(rows, scratch);
  }
  return Buffer.from(scratch.subarray(0, end));
}

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
  body: Buffer | undefined,
  token: string,
): Promise<void> {
  if (token === '') throw new Error('an insert needs a non-empty deduplication token');
  if (body === undefined) return;
  const literal = clickhouseDialect.literal;
  const into = [
    `INSERT INTO ${clickhouseDialect.quote(RAW_TABLE)} SETTINGS insert_deduplicate = 1,`,
    `insert_deduplication_token = ${literal(token)}, deduplicate_blocks_in_dependent_materialized_views = 1`,
  ].join(' ');
  const staging = insertStagingDir(client);
  if (staging === undefined) {
    const { stream } = await client.exec({
      query: `${into} SELECT * FROM input(${literal(STRUCTURE)}) FORMAT RowBinary`,
      values: Readable.from([body]),
    });
    await finished(stream.resume());
    return;
  }
  const file = join(staging, `${process.pid}-${staged++}.bin`);
  await writeFile(file, body);
  try {
    await client.command({
      query: `${into} SELECT * FROM file(${literal(file)}, 'RowBinary', ${literal(STRUCTURE)})`,
    });
  } finally {
    await unlink(file).catch(() => undefined);
  }
}
