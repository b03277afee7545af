// What the speed sink inserts, made where the gate runs (a gate thread by default): accepted events
// become raw rows (orders one per line, enriched with the product's category) and one RowBinary
// body, so the parsed events never reach the inserting thread.

// row-binary.ts itself, not clickhouse/index.ts: a gate thread must not load a ClickHouse client.
import { RowBinaryWriter } from '../clickhouse/row-binary.ts';
import { type Dimensions, eachRawRow, emptyRawRow, indexDimensions } from '../contracts/index.ts';
import type { Prepare, PreparerRef } from '../pipeline/index.ts';

export interface PreparedInsert {
  /** Undefined when no event gave a row. */
  body: Uint8Array | undefined;
  rows: number;
  /** Oldest and newest event time of the accepted events (ms since epoch); undefined when none. */
  oldest: number | undefined;
  newest: number | undefined;
}

export function prepareInsert(dimensions: Dimensions): Prepare<PreparedInsert> {
  const index = indexDimensions(dimensions);
  const writer = new RowBinaryWriter();
  const row = emptyRawRow();
  const write = (filled: typeof row) => writer.write(filled);
  return (accepted, refuse) => {
    let oldest = Number.POSITIVE_INFINITY;
    let newest = Number.NEGATIVE_INFINITY;
    for (const record of accepted) {
      // A record whose rows cannot be encoded (a value past the columns' types) leaves the range
      // alone: its rows written so far are taken back, the range's other records go on.
      const mark = writer.mark();
      try {
        eachRawRow(record.event, index, write, row);
      } catch (error) {
        writer.rollback(mark);
        refuse(record, `ClickHouse raw rows: ${error instanceof Error ? error.message : String(error)}`);
        continue;
      }
      if (record.eventTimeMs > newest) newest = record.eventTimeMs;
      if (record.eventTimeMs < oldest) oldest = record.eventTimeMs;
    }
    const rows = writer.rows;
    const any = Number.isFinite(newest);
    const body = writer.finish();
    return {
      body: rows > 0 ? body : undefined,
      rows,
      oldest: any ? oldest : undefined,
      newest: any ? newest : undefined,
    };
  };
}

/** prepareInsert as a gate thread loads it. */
export const INSERT_PREPARER: PreparerRef = { module: import.meta.url, name: 'prepareInsert' };
