// The lake's tables by name, for the maintenance every table gets alike (compaction, vacuum,
// checkpoints): the events the lake writer keeps and the records quarantine keeps.
import { EVENTS_SCHEMA, lakeTableDir } from './events.ts';
import { openQuarantineTable, quarantineTableDir } from './quarantine-table.ts';
import { type LakeTable, openTable } from './table.ts';

/**
 * Maintenance runs on one DuckDB thread. Compaction's COPY holds row groups per thread: packing a
 * day of the soak's traffic (6M events in 60 files) into 4 files peaked at +1,406 MB of RSS with
 * DuckDB's default of one thread per core (2 on this machine) and at +631 MB with one, in the same
 * ~30 s (`npm run bench:jobs`, medians of 3). It runs beside the consumers, which take those cores
 * anyway, and on a larger machine the default would multiply the memory with the cores.
 */
const MAINTENANCE = { threads: 1 };

export const LAKE_TABLES = {
  events: (dataDir: string) => openTable(lakeTableDir(dataDir), EVENTS_SCHEMA, MAINTENANCE),
  quarantine: (dataDir: string) => openQuarantineTable(quarantineTableDir(dataDir), undefined, MAINTENANCE),
} as const;

export type LakeTableName = keyof typeof LAKE_TABLES;

/** Runs `use` on each lake table in turn (one open at a time); its results by table name. */
export async function eachLakeTable<T>(
  dataDir: string,
  use: (table: LakeTable, name: LakeTableName) => Promise<T>,
): Promise<Record<LakeTableName, T>> {
  const results: Partial<Record<LakeTableName, T>> = {};
  for (const name of Object.keys(LAKE_TABLES) as LakeTableName[]) {
    const table = await LAKE_TABLES[name](dataDir);
    try {
      results[name] = await use(table, name);
    } finally {
      table.close();
    }
  }
  return results as Record<LakeTableName, T>;
}
