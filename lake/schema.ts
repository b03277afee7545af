// A lake table's columns, typed in the Delta protocol's own type names so one declaration yields
// the Delta schemaString, the DuckDB column types and the statistics the log carries.
import { duckdbDialect } from '../duckdb/index.ts';

/** Delta's primitive types that the lake writes. */
export type DeltaType = 'string' | 'long' | 'integer' | 'boolean' | 'timestamp' | 'date' | 'binary';

/** Delta's array and struct types, as its schemaString spells them. */
export interface ArrayType {
  type: 'array';
  elementType: ColumnType;
  containsNull: boolean;
}

export interface StructType {
  type: 'struct';
  fields: readonly { name: string; type: ColumnType; nullable: boolean }[];
}

export type ColumnType = DeltaType | ArrayType | StructType;

export interface ColumnDef {
  name: string;
  type: ColumnType;
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

/**
 * The DuckDB type that writes each Delta type as PROTOCOL.md maps it to Parquet: `timestamp` is an
 * instant, a Parquet TIMESTAMP(MICROS) adjusted to UTC, which is what DuckDB writes for TIMESTAMPTZ
 * (its TIMESTAMP is written not adjusted, Delta's `timestamp_ntz`); `long` INT64, `integer` INT32,
 * `date` DATE, `string` BYTE_ARRAY with the STRING annotation, `boolean` BOOLEAN.
 */
export const DUCKDB_TYPES: Record<DeltaType, string> = {
  string: 'VARCHAR',
  long: 'BIGINT',
  integer: 'INTEGER',
  boolean: 'BOOLEAN',
  timestamp: 'TIMESTAMPTZ',
  date: 'DATE',
  binary: 'BLOB',
};

/** A column name as DuckDB SQL text. */
export const ident = (name: string): string => duckdbDialect.quote(name);

/** The DuckDB type of any column type: lists and structs nest as Delta's arrays and structs do. */
export function duckdbType(type: ColumnType): string {
  if (typeof type === 'string') return DUCKDB_TYPES[type];
  if (type.type === 'array') return `${duckdbType(type.elementType)}[]`;
  return `STRUCT(${type.fields.map((f) => `${ident(f.name)} ${duckdbType(f.type)}`).join(', ')})`;
}

/** A column of a primitive type: the only kind whose values Delta's statistics describe. */
export const isPrimitive = (c: ColumnDef): c is PrimitiveColumn => typeof c.type === 'string';

export type PrimitiveColumn = Omit<ColumnDef, 'type'> & { type: DeltaType };

/**
 * A lake timestamp (TIMESTAMPTZ, or TIMESTAMP in files written before timestamps were adjusted to
 * UTC) as a DuckDB TIMESTAMP of the same UTC instant. Through the microseconds since the epoch, not
 * a cast: a cast between the two goes through ICU's calendar and costs ten times more per row
 * (5M rows: 1,090 vs 120 ms), which a recompute over millions of events would pay.
 */
export const utcTimestamp = (expr: string): string => `make_timestamp(epoch_us(${expr}))`;

/** The inverse: any lake timestamp as TIMESTAMPTZ, again without ICU. */
export const utcInstant = (expr: string): string => `make_timestamptz(epoch_us(${expr}))`;

/**
 * Milliseconds since the epoch (a number the appender staged) as TIMESTAMPTZ, straight from the
 * microseconds: a cast from TIMESTAMP would go through ICU.
 */
export const instantFromMs = (expr: string): string => `make_timestamptz(CAST(${expr} AS BIGINT) * 1000)`;

/**
 * metaData.configuration key saying every data file of the table, from that version on, stores its
 * timestamps adjusted to UTC. Tables written before lack it until `optimize` has rewritten their
 * older files (LakeTable.optimize).
 */
export const UTC_TIMESTAMPS = 'tidewater.timestampsAdjustedToUtc';

/** Spark's StructType JSON, the form Delta's `metaData.schemaString` holds. */
export function schemaString(schema: TableSchema): string {
  const typeJson = (type: ColumnType): unknown =>
    typeof type === 'string'
      ? type
      : type.type === 'array'
        ? { type: 'array', elementType: typeJson(type.elementType), containsNull: type.containsNull }
        : { type: 'struct', fields: type.fields.map((f) => field(f.name, f.type, f.nullable)) };
  const field = (name: string, type: ColumnType, nullable: boolean): unknown => ({
    name,
    type: typeJson(type),
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
