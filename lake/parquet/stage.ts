// Moves a batch of JS rows into DuckDB through the appender's data-chunk path, column by column.
// Two tricks keep the per-value crossings into native code down, and SQL undoes both:
// - integers travel as DOUBLE (a typed-array write) rather than BIGINT (a BigInt per value); exact
//   because every lake integer is below 2^53, as the raw-row contract already assumes;
// - '' in a non-nullable string column travels as NULL (a validity bit instead of a string copy);
//   most raw-row columns are '' for most event types.
import { type DuckDBConnection, DuckDBDataChunk } from '@duckdb/node-api';
import type { ColumnDef, TableSchema } from '../schema.ts';
import { DUCKDB_TYPES } from '../schema.ts';

export type LakeValue = string | number | boolean | null;
export type Row = Readonly<Record<string, LakeValue>>;

const STAGE_TABLE = 'lake_stage';
const CHUNK_ROWS = 2048;

export const ident = (name: string): string => `"${name.replaceAll('"', '""')}"`;

const emptyAsNull = (c: ColumnDef) => c.type === 'string' && !c.nullable;

function stagedType(c: ColumnDef): string {
  if (c.type === 'long') return 'DOUBLE';
  if (c.type === 'timestamp' || c.type === 'date') return 'VARCHAR';
  return DUCKDB_TYPES[c.type];
}

function typedColumn(c: ColumnDef): string {
  const col = ident(c.name);
  if (emptyAsNull(c)) return `coalesce(${col}, '') AS ${col}`;
  if (stagedType(c) !== DUCKDB_TYPES[c.type]) return `CAST(${col} AS ${DUCKDB_TYPES[c.type]}) AS ${col}`;
  return col;
}

/**
 * Replaces the connection's staging table with `rows` and returns a SELECT that reads them back
 * with the schema's column types. Timestamps are `YYYY-MM-DD HH:MM:SS.mmm` UTC text.
 */
export async function stageRows(
  connection: DuckDBConnection,
  schema: TableSchema,
  rows: readonly Row[],
): Promise<string> {
  const { columns } = schema;
  await connection.run(
    `CREATE OR REPLACE TEMP TABLE ${STAGE_TABLE} (${columns.map((c) => `${ident(c.name)} ${stagedType(c)}`).join(', ')})`,
  );
  const appender = await connection.createAppender(STAGE_TABLE);
  const chunk = DuckDBDataChunk.create(
    columns.map((_, i) => appender.columnType(i)),
    CHUNK_ROWS,
  );
  for (let start = 0; start < rows.length; start += CHUNK_ROWS) {
    const count = Math.min(CHUNK_ROWS, rows.length - start);
    chunk.rowCount = count;
    columns.forEach((c, i) => {
      const vector = chunk.getColumnVector(i);
      const nullForEmpty = emptyAsNull(c);
      for (let r = 0; r < count; r++) {
        const value = (rows[start + r] as Row)[c.name] ?? null;
        vector.setItem(r, nullForEmpty && value === '' ? null : value);
      }
      vector.flush();
    });
    appender.appendDataChunk(chunk);
  }
  appender.closeSync();
  return `SELECT ${columns.map(typedColumn).join(', ')} FROM ${STAGE_TABLE}`;
}
