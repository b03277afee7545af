// What a BI tool's catalog queries see instead of the engine's system tables: views over
// system.databases, tables and columns that show only the metric views' database (and the
// quarantine table's, whose reads only engineers may make), over
// system.functions that show only the allowed functions, and over system.settings that show only
// the settings a client may send. They live in `<views database>_system`; the ClickHouse interface
// points `system.<table>` there (clickhouse-http/translate.ts).
import type { ClickHouseClient } from '@clickhouse/client';
import { ALLOWED_FUNCTIONS } from './functions.ts';
import { quoteIdentifier } from './sessions.ts';

export const SYSTEM_VIEWS = ['databases', 'tables', 'columns', 'functions', 'settings'] as const;

const stringList = (values: Iterable<string>) =>
  `[${[...values].map((v) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`).join(', ')}]`;

export const systemViewsDatabase = (database: string) => `${database}_system`;

/**
 * Columns blanked in the views: where the engine keeps its files, and the SQL of the metric views,
 * which names the platform's own tables. They keep their names and types for clients that read them.
 */
const BLANKED: Partial<Record<(typeof SYSTEM_VIEWS)[number], string[]>> = {
  databases: ["'' AS data_path", "'' AS metadata_path", "'' AS engine_full"],
  tables: [
    '[] AS data_paths',
    "'' AS metadata_path",
    '[] AS dependencies_database',
    '[] AS dependencies_table',
    "'' AS create_table_query",
    "'' AS engine_full",
    "'' AS as_select",
    '[] AS loading_dependencies_database',
    '[] AS loading_dependencies_table',
    '[] AS loading_dependent_database',
    '[] AS loading_dependent_table',
  ],
};

/**
 * Creates or replaces the views of `database`'s catalog, which show the databases `shown` (the
 * views' own, and the quarantine table's); `settings` are the names of settings clients may send.
 */
export async function createSystemViews(
  clickhouse: ClickHouseClient,
  database: string,
  shown: readonly string[],
  settings: Iterable<string>,
): Promise<void> {
  const db = stringList(shown);
  const filters: Record<(typeof SYSTEM_VIEWS)[number], string> = {
    databases: `name IN ${db}`,
    tables: `database IN ${db}`,
    columns: `database IN ${db}`,
    functions: `name IN ${stringList(ALLOWED_FUNCTIONS)} OR alias_to IN ${stringList(ALLOWED_FUNCTIONS)}`,
    settings: `name IN ${stringList(settings)}`,
  };
  const target = quoteIdentifier(systemViewsDatabase(database));
  await clickhouse.command({ query: `CREATE DATABASE IF NOT EXISTS ${target}` });
  for (const view of SYSTEM_VIEWS)
    await clickhouse.command({
      query: `CREATE OR REPLACE VIEW ${target}.${view} AS SELECT * ${
        BLANKED[view] ? `REPLACE (${BLANKED[view].join(', ')})` : ''
      } FROM system.${view} WHERE ${filters[view]}`,
    });
}
