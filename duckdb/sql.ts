// SQL text for names the platform builds itself (file paths, table names): DuckDB cannot bind a
// parameter in COPY ... TO or in a read_parquet file list. User input always goes through bound
// parameters, never through these.
import { duckdbDialect } from './dialect.ts';

/** A SQL string literal. */
export const sqlString = (s: string): string => duckdbDialect.literal(s);

/** A SQL list of string literals. */
export const sqlStringList = (items: readonly string[]): string => `[${items.map(sqlString).join(', ')}]`;

/** `read_parquet` over exactly these files; files written at different schema versions union by name. */
export function readParquet(files: readonly string[]): string {
  if (files.length === 0) throw new Error('readParquet needs at least one file');
  return `read_parquet(${sqlStringList(files)}, union_by_name = true)`;
}
