// The lake's tables by name, for the maintenance every table gets alike (compaction, vacuum,
// checkpoints): the events the lake writer keeps and the records quarantine keeps.
import { JOB_THREADS } from '../duckdb/index.ts';
import { EVENTS_SCHEMA, lakeTableDir } from './events.ts';
import { openQuarantineTable, quarantineTableDir } from './quarantine-table.ts';
import { type LakeTable, openTable } from './table.ts';

/** Maintenance runs as a scheduled job does (duckdb/open.ts, JOB_THREADS). */
const MAINTENANCE = { threads: JOB_THREADS };

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
