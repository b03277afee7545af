// Describes freshly written data files as Delta `add` actions: statistics from their Parquet footers
// (the row-group statistics the writer already computed, so no data page is read again), sizes from
// the file system, partition values from the hive directories, and each file's SHA-256 in `tags`
// so that a reader can tell a damaged file from data (verify.ts).
import { stat } from 'node:fs/promises';
import { relative, sep } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { sqlString, sqlStringList } from '../../duckdb/index.ts';
import type { AddFile, PartitionValues } from '../delta-log/index.ts';
import {
  type ColumnDef,
  DUCKDB_TYPES,
  isPrimitive,
  type PrimitiveColumn,
  partitionValue,
  type TableSchema,
} from '../schema.ts';
import { CHECKSUM_TAG, sha256OfFile } from '../verify.ts';

const ISO_MS = `'%Y-%m-%dT%H:%M:%S.%gZ'`;

/**
 * `value` on the footer rows of column `c` only (parquet_metadata has a row per row group and
 * column), NULL elsewhere. A CASE rather than FILTER: only the column's own bounds may be cast.
 */
const ofColumn = (c: ColumnDef, value: string) =>
  `CASE WHEN path_in_schema = ${sqlString(c.name)} THEN ${value} END`;

/**
 * Delta writes statistics in the JSON form of the value; timestamps as ISO-8601 UTC. The footer
 * holds each row group's bounds as text, so they are typed back before taking the file's bound.
 */
function statValue(c: PrimitiveColumn, aggregate: 'min' | 'max'): string {
  const bound = `${aggregate}(${ofColumn(c, `CAST(stats_${aggregate}_value AS ${DUCKDB_TYPES[c.type]})`)})`;
  if (c.type === 'timestamp') return `strftime(${bound}, ${ISO_MS})`;
  if (c.type === 'date') return `CAST(${bound} AS VARCHAR)`;
  return bound;
}

const jsonObject = (entries: readonly [string, string][]) =>
  `json_object(${entries.map(([k, v]) => `'${k}', ${v}`).join(', ')})`;

/**
 * Booleans and binaries carry no min/max in Delta statistics; nullCount covers every primitive
 * column (a nested column's leaves are not columns of their own in the footer's sense here).
 */
function statsSql(schema: TableSchema): string {
  const primitive = schema.columns.filter(isPrimitive);
  const bounded = primitive.filter((c) => c.type !== 'boolean' && c.type !== 'binary' && c.minMax !== false);
  const [first] = primitive;
  if (!first) throw new Error(`${schema.name} has no primitive column to count its rows by`);
  return jsonObject([
    ['numRecords', `CAST(sum(${ofColumn(first, 'row_group_num_rows')}) AS BIGINT)`],
    ['minValues', jsonObject(bounded.map((c) => [c.name, statValue(c, 'min')]))],
    ['maxValues', jsonObject(bounded.map((c) => [c.name, statValue(c, 'max')]))],
    [
      'nullCount',
      jsonObject(primitive.map((c) => [c.name, `CAST(sum(${ofColumn(c, 'stats_null_count')}) AS BIGINT)`])),
    ],
  ]);
}

/** The log's form of a path: relative to the table root, '/'-separated, URI-encoded. */
export const toLogPath = (tableDir: string, file: string): string =>
  encodeURI(relative(tableDir, file).split(sep).join('/'));

export const fromLogPath = (path: string): string => path.split('/').map(decodeURIComponent).join(sep);

function partitionValuesOf(schema: TableSchema, logPath: string): PartitionValues {
  const dirs = new Map(
    logPath
      .split('/')
      .slice(0, -1)
      .map((segment) => {
        const [name = '', ...value] = decodeURIComponent(segment).split('=');
        return [name, value.join('=')] as const;
      }),
  );
  return Object.fromEntries(
    schema.partitionColumns.map((p) => {
      const text = dirs.get(p.name);
      if (text === undefined) throw new Error(`${logPath}: no ${p.name}= directory`);
      return [p.name, partitionValue(p.type, text)];
    }),
  );
}

export async function addActions(
  connection: DuckDBConnection,
  tableDir: string,
  schema: TableSchema,
  files: readonly string[],
  dataChange: boolean,
): Promise<AddFile[]> {
  if (files.length === 0) return [];
  const reader = await connection.runAndReadAll(
    `SELECT file_name AS filename, ${statsSql(schema)}::VARCHAR AS stats
     FROM parquet_metadata(${sqlStringList(files)})
     GROUP BY file_name`,
  );
  const stats = new Map(reader.getRowObjectsJS().map((r) => [r.filename as string, r.stats as string]));
  const statsOf = (file: string) => {
    const json = stats.get(file);
    if (json === undefined) throw new Error(`no statistics for ${file}: it holds no rows`);
    return json;
  };
  return Promise.all(
    files.map(async (file) => {
      const [info, sha256] = await Promise.all([stat(file), sha256OfFile(file)]);
      const path = toLogPath(tableDir, file);
      return {
        path,
        partitionValues: partitionValuesOf(schema, path),
        size: info.size,
        modificationTime: Math.floor(info.mtimeMs),
        dataChange,
        stats: statsOf(file),
        tags: { [CHECKSUM_TAG]: sha256 },
      };
    }),
  );
}
