// Time travel for analysts: a metric over a range computed straight from a lake snapshot (a version
// or the version current at a timestamp), at any grain and over any dimensions, with the catalog's
// SQL through the DuckDB dialect. Nothing is read from the batch or speed views, so the answer is
// what the lake held at that version, whatever was recomputed or streamed since.
import {
  type Metric,
  type QueryShape,
  RANGE_PARAMS,
  resolveShape,
  rollupSelect,
} from '../contracts/catalog.ts';
import { duckdbDialect as dialect, openDuck } from '../duckdb/index.ts';
import { EVENTS_SCHEMA, openTable, type SnapshotAt } from '../lake/index.ts';
import { metricRawColumns } from './metric-columns.ts';
import { rawSelect } from './recompute.ts';
import { sqlTimeOf, type TimeInput, toMs } from './time.ts';

export interface SnapshotQuery {
  lakeDir: string;
  metric: Metric;
  from: TimeInput;
  to: TimeInput;
  at: SnapshotAt;
  shape?: QueryShape;
}

export interface SnapshotAnswer {
  lakeVersion: number;
  /** Commit time of that version (ms). */
  lakeTimestamp: number;
  /** Buckets as ISO-8601, integers as numbers, as the merged API renders ClickHouse rows. */
  rows: Record<string, string | number | boolean>[];
}

export async function querySnapshot(query: SnapshotQuery): Promise<SnapshotAnswer> {
  const table = await openTable(query.lakeDir, EVENTS_SCHEMA);
  try {
    const snapshot = await table.snapshot(query.at);
    const files = await table.filesAt({ version: snapshot.version });
    const { metric } = query;
    const shape = resolveShape(metric, query.shape);
    const source = `(${rawSelect(files, metricRawColumns(metric), metric.eventTypes)}) AS raw`;
    const select = rollupSelect(metric, dialect, { ...query.shape, source, stage: 'final' });
    const q = dialect.quote;
    const bucket = shape.bucket
      ? [`strftime(${q(shape.bucket)}, '%Y-%m-%dT%H:%M:%SZ') AS ${q(shape.bucket)}`]
      : [];
    const rest = [...shape.dimensions, ...shape.measures.map((m) => m.name)].map(q);
    const duck = await openDuck();
    try {
      const params = {
        [RANGE_PARAMS.from]: sqlTimeOf(toMs(query.from, 'from')),
        [RANGE_PARAMS.to]: sqlTimeOf(toMs(query.to, 'to')),
      };
      const reader = await duck.connection.runAndReadAll(
        `SELECT ${[...bucket, ...rest].join(', ')} FROM (${select})`,
        files.length > 0 ? params : {},
      );
      // DuckDB renders 64-bit integers as strings; the API's measures are JSON numbers.
      const measures = new Set(shape.measures.map((m) => m.name));
      const rows = reader.getRowObjectsJson().map((row) => {
        const out: SnapshotAnswer['rows'][number] = {};
        for (const [k, v] of Object.entries(row)) {
          out[k] = measures.has(k) && typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : (v as string);
        }
        return out;
      });
      return { lakeVersion: snapshot.version, lakeTimestamp: snapshot.timestamp, rows };
    } finally {
      duck.close();
    }
  } finally {
    table.close();
  }
}
