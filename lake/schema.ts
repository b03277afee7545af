// A lake table's columns, typed in the Delta protocol's own primitive names so one declaration
// yields the Delta schemaString, the DuckDB column types and the statistics the log carries.

export type DeltaType = 'string' | 'long' | 'integer' | 'boolean' | 'timestamp' | 'date';

export interface ColumnDef {
  name: string;
  type: DeltaType;
  nullable: boolean;
  /**
   * Keep min/max statistics in `add` actions (default true). Off for large free-form values such as
   * raw JSON, whose bounds prune nothing and would bloat the log.
   */
  minMax?: boolean;
}

/** A hive partition column, derived when writing from the data columns by a DuckDB expression. */
export interface PartitionColumnDef {
  name: string;
  type: DeltaType;
  /** DuckDB expression over the (typed) data columns, producing the directory value as text. */
  expr: string;
}

export interface TableSchema {
  /** The table's name in its Delta metadata. */
  name: string;
  columns: readonly ColumnDef[];
  partitionColumns: readonly PartitionColumnDef[];
}

export const DUCKDB_TYPES: Record<DeltaType, string> = {
  string: 'VARCHAR',
  long: 'BIGINT',
  integer: 'INTEGER',
  boolean: 'BOOLEAN',
  timestamp: 'TIMESTAMP',
  date: 'DATE',
};

/** Spark's StructType JSON, the form Delta's `metaData.schemaString` holds. */
export function schemaString(schema: TableSchema): string {
  const field = (name: string, type: DeltaType, nullable: boolean) => ({
    name,
    type,
    nullable,
    metadata: {},
  });
  return JSON.stringify({
    type: 'struct',
    fields: [
      ...schema.columns.map((c) => field(c.name, c.type, c.nullable)),
      ...schema.partitionColumns.map((p) => field(p.name, p.type, false)),
    ],
  });
}

/**
 * The Delta serialization of a partition value read back from a directory name: numbers lose the
 * zero padding that keeps directories sorted (`hour=03` -> "3").
 */
export function partitionValue(type: DeltaType, text: string): string {
  return type === 'long' || type === 'integer' ? String(Number(text)) : text;
}

/** `{'date': DATE, 'hour': INTEGER}`: hive_types for read_parquet, so partition columns keep their types. */
export function hiveTypesSql(schema: TableSchema): string {
  return `{${schema.partitionColumns.map((p) => `'${p.name}': ${DUCKDB_TYPES[p.type]}`).join(', ')}}`;
}
