// The lake's events table: every raw-row column, where the row came from in Kafka, and (on the
// first row of each event) the original event JSON, so that history can rebuild any future column.
// The rows themselves are built by DuckDB from accepted records: see event-rows.ts.
import { join } from 'node:path';
import { type LogicalType, RAW_COLUMN_NAMES, RAW_COLUMNS, type RawRow } from '../contracts/raw-rows.ts';
import { type ColumnDef, type DeltaType, type TableSchema, utcTimestamp } from './schema.ts';

const DELTA_TYPE_OF: Record<LogicalType, DeltaType> = {
  uuid: 'string',
  string: 'string',
  label: 'string',
  int64: 'long',
  uint64: 'long',
  bool: 'boolean',
  timestamp: 'timestamp',
  minute: 'timestamp',
};

export type LakeRow = RawRow & {
  source_partition: number;
  source_offset: number;
  /** The event's original JSON on line_index 0, null on an order's further line rows. */
  event: string | null;
};

const rawColumns: ColumnDef[] = RAW_COLUMN_NAMES.map((name) => ({
  name,
  type: DELTA_TYPE_OF[RAW_COLUMNS[name].type],
  nullable: false,
}));

export const EVENTS_SCHEMA: TableSchema = {
  name: 'events',
  columns: [
    ...rawColumns,
    { name: 'source_partition', type: 'integer', nullable: false },
    { name: 'source_offset', type: 'long', nullable: false },
    { name: 'event', type: 'string', nullable: true, minMax: false },
  ],
  // Zero-padded hours keep directory listings in time order; the log stores the number itself.
  // strftime of a TIMESTAMPTZ goes through ICU (3x the cost): the UTC wall clock is the same.
  partitionColumns: [
    { name: 'date', type: 'date', expr: `strftime(${utcTimestamp('event_time')}, '%Y-%m-%d')` },
    { name: 'hour', type: 'integer', expr: `strftime(${utcTimestamp('event_time')}, '%H')` },
  ],
};

export const lakeTableDir = (dataDir: string, table = EVENTS_SCHEMA.name): string =>
  join(dataDir, 'lake', table);
