// Moves a batch of JS rows into DuckDB through the appender's data-chunk path, column by column.
// Two tricks keep the per-value crossings into native code down, and SQL undoes both:
// - integers travel as DOUBLE (a typed-array write) rather than BIGINT (a BigInt per value); exact
//   because every lake integer is below 2^53, as the raw-row contract already assumes;
// - '' in a non-nullable string column travels as NULL (a validity bit instead of a string copy);
//   most raw-row columns are '' for most event types.
import { type DuckDBBlobValue, type DuckDBConnection, DuckDBDataChunk } from '@duckdb/node-api';
import type { ColumnDef, TableSchema } from '../schema.ts';
import { DUCKDB_TYPES, duckdbType, ident, isPrimitive } from '../schema.ts';

export type LakeValue = string | number | boolean | null;
export type Row = Readonly<Record<string, LakeValue>>;

/** A batch put into a DuckDB connection, as SELECTs over what was put there. */
export interface StagedBatch {
  /** The batch's rows with the schema's data columns. */
  rows: string;
  /**
   * The data columns the partition expressions read, cheaper than `rows` (say, without parsing
   * JSON): its rows fall in the same partitions as `rows`' (a partition of no rows gets no file).
   */
  partitionKeys: string;
}

const STAGE_TABLE = 'lake_stage';
const CHUNK_ROWS = 2048;

export { ident };

const emptyAsNull = (c: ColumnDef) => c.type === 'string' && !c.nullable;

function stagedType(c: ColumnDef): string {
  // Nested values would cross into native code one object at a time: such tables stage with SQL.
  if (!isPrimitive(c))
    throw new Error(`column ${c.name}: rows of nested types are staged with SQL, not appended`);
  const { type } = c;
  if (type === 'long') return 'DOUBLE';
  if (type === 'timestamp' || type === 'date') return 'VARCHAR';
  return DUCKDB_TYPES[type];
}

function typedColumn(c: ColumnDef): string {
  const col = ident(c.name);
  if (emptyAsNull(c)) return `coalesce(${col}, '') AS ${col}`;
  const staged = stagedType(c);
  const type = duckdbType(c.type);
  if (staged !== type) return `CAST(${col} AS ${type}) AS ${col}`;
  return col;
}

/**
 * Appends `rowCount` rows to `table` through data chunks, column by column; `value(column, row)`
 * gives each value in the table's column order.
 */
export async function appendRows(
  connection: DuckDBConnection,
  table: string,
  rowCount: number,
  value: (column: number, row: number) => LakeValue | DuckDBBlobValue,
): Promise<void> {
  const appender = await connection.createAppender(table);
  const types = Array.from({ length: appender.columnCount }, (_, i) => appender.columnType(i));
  const chunk = DuckDBDataChunk.create(types, CHUNK_ROWS);
  for (let start = 0; start < rowCount; start += CHUNK_ROWS) {
    const count = Math.min(CHUNK_ROWS, rowCount - start);
    chunk.rowCount = count;
    for (let column = 0; column < types.length; column++) {
      const vector = chunk.getColumnVector(column);
      for (let r = 0; r < count; r++) vector.setItem(r, value(column, start + r));
      vector.flush();
    }
    appender.appendDataChunk(chunk);
  }
  appender.closeSync();
}

/**
 * Replaces the connection's staging table with `rows` and returns a SELECT that reads them back
 * with the schema's column types (also the partition keys: there is nothing cheaper to read).
 * Timestamps are `YYYY-MM-DD HH:MM:SS.mmm` UTC text.
 */
export async function stageRows(
  connection: DuckDBConnection,
  schema: TableSchema,
  rows: readonly Row[],
): Promise<StagedBatch> {
  const { columns } = schema;
  await connection.run(
    `CREATE OR REPLACE TEMP TABLE ${STAGE_TABLE} (${columns.map((c) => `${ident(c.name)} ${stagedType(c)}`).join(', ')})`,
  );
  const names = columns.map((c) => c.name);
  const nullForEmpty = columns.map(emptyAsNull);
  await appendRows(connection, STAGE_TABLE, rows.length, (column, row) => {
    const value = (rows[row] as Row)[names[column] as string] ?? null;
    return nullForEmpty[column] && value === '' ? null : value;
  });
  const select = `SELECT ${columns.map(typedColumn).join(', ')} FROM ${STAGE_TABLE}`;
  return { rows: select, partitionKeys: select };
}
