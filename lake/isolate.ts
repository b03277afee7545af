// Which accepted records DuckDB refuses to turn into events-table rows. The lake reads each record's
// own bytes with DuckDB's JSON reader, a parser other than the gate's: where the two disagree on a
// record (a lone surrogate did, before the gate refused them), the whole range's statement fails.
// The range is then split in halves, each flattened apart in a scratch DuckDB, down to the records
// that fail alone, each with DuckDB's message; the others are the range the lake commits. A
// record's verdict depends on its bytes only, so a range redone after a crash splits the same way.
import type { DimensionIndex } from '../contracts/index.ts';
import { openDuck } from '../duckdb/index.ts';
import type { AcceptedRecord } from '../quality/index.ts';
import { stageAccepted } from './event-rows.ts';

const PROBE_TABLE = 'lake_events_probe';

/** DuckDB's message without the input it quotes (the record's bytes, kept in quarantine anyway). */
const firstLine = (error: unknown): string =>
  (error instanceof Error ? error.message : String(error)).split(/\n|\s+Input: /)[0]?.slice(0, 500) ?? '';

/** The records of `records` DuckDB refuses, each with its reason; none when the batch flattens. */
export async function refusedByDuckDB(
  records: readonly AcceptedRecord[],
  dimensions: DimensionIndex,
): Promise<Map<AcceptedRecord, string>> {
  const refused = new Map<AcceptedRecord, string>();
  const duck = await openDuck(1);
  try {
    const flattens = async (subset: readonly AcceptedRecord[]): Promise<string | undefined> => {
      try {
        const staged = await stageAccepted(subset, dimensions)(duck.connection);
        if (staged)
          await duck.connection.run(`CREATE OR REPLACE TEMP TABLE ${PROBE_TABLE} AS ${staged.rows}`);
        return undefined;
      } catch (error) {
        return firstLine(error);
      }
    };
    const split = async (subset: readonly AcceptedRecord[]): Promise<void> => {
      const failure = await flattens(subset);
      if (failure === undefined) return;
      if (subset.length === 1) {
        refused.set(subset[0] as AcceptedRecord, `DuckDB: ${failure}`);
        return;
      }
      const half = subset.length >> 1;
      await split(subset.slice(0, half));
      await split(subset.slice(half));
    };
    await split(records);
  } finally {
    duck.close();
  }
  return refused;
}
