// Raw rows as RowBinary, written by code generated from the raw columns. ClickHouse parses it for
// about two thirds of the CPU of the same rows as JSON, and writing it costs less than
// JSON.stringify did. Text-like columns travel as String and ClickHouse casts them to the table's
// types (UUID, LowCardinality, DateTime64) on its own threads rather than on the consumer's.
// Apart from insert.ts and client.ts so that a gate thread can encode without loading a ClickHouse
// client (import this module directly there, not index.ts).
import { type LogicalType, RAW_COLUMN_NAMES, RAW_COLUMNS, type RawRow } from '../contracts/catalog.ts';
import { clickhouseDialect } from './dialect.ts';

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
export const STRUCTURE = RAW_COLUMN_NAMES.map(
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

/** Writes `row` into `buf` at `o`; the end offset, or -1 when `buf` is too small. */
const writeRow = new Function(
  'writeString',
  [
    'return (row, buf, o) => {',
    `  if (o + ${ROW_HEADROOM} > buf.length) return -1;`,
    ...RAW_COLUMN_NAMES.map((name) => `  ${writeColumn(name, RAW_COLUMNS[name].type)}`),
    '  return o;',
    '};',
  ].join('\n'),
)(writeString) as (row: RawRow, buf: Buffer, o: number) => number;

/**
 * Encodes rows one by one, so that a row object can be filled anew for each (eachRawRow). One
 * writer is used synchronously from its first write to its finish.
 */
export class RowBinaryWriter {
  /** Reused from body to body; grows to the largest body seen. */
  private buf = Buffer.allocUnsafe(1 << 20);
  private end = 0;
  private count = 0;

  /** Rows written since the last finish. */
  get rows(): number {
    return this.count;
  }

  write(row: RawRow): void {
    let end = writeRow(row, this.buf, this.end);
    while (end < 0) {
      const grown = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(grown, 0, 0, this.end);
      this.buf = grown;
      end = writeRow(row, this.buf, this.end);
    }
    this.end = end;
    this.count++;
  }

  /** Where the body ends now, to roll back to. */
  mark(): { end: number; count: number } {
    return { end: this.end, count: this.count };
  }

  /** Forgets the rows written since `mark`. */
  rollback(mark: { end: number; count: number }): void {
    this.end = mark.end;
    this.count = mark.count;
  }

  /**
   * The body of the rows written since the last finish, deterministic: a retry built from the same
   * rows is byte-identical. Its ArrayBuffer is its own, so a gate thread can move it to the
   * inserting thread.
   */
  finish(): Uint8Array {
    const body = new Uint8Array(this.buf.subarray(0, this.end));
    this.end = 0;
    this.count = 0;
    return body;
  }
}

const shared = new RowBinaryWriter();

/** The insert body of `rows` (see RowBinaryWriter.finish). */
export function encodeRows(rows: readonly RawRow[]): Uint8Array {
  for (const row of rows) shared.write(row);
  return shared.finish();
}
