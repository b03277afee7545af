// Tables of earlier metric versions. A metric whose definition changes gets a new version and new
// tables (its speed view and its batch view); the speed layer stops feeding the old ones at start
// but leaves their rows, which someone may still want. These list them and drop one on request.
// Which tables qualify is worked out from the catalog alone (an allow-list of names): a table of a
// current version, or one the catalog never named, is never offered nor dropped.
import type { ClickHouseClient } from '@clickhouse/client';
import { batchTable } from '../batch-layer/index.ts';
import { clickhouseDialect as ch } from '../clickhouse/index.ts';
import { type Catalog, metricTable } from '../contracts/index.ts';
import { metricViewName } from '../speed-layer/index.ts';

export interface RetiredTable {
  table: string;
  metric: string;
  version: number;
  /** Which view it held: the speed layer's rollups or a loaded batch view. */
  layer: 'speed' | 'batch';
  rows: number;
  bytes: number;
}

type Retired = Pick<RetiredTable, 'metric' | 'version' | 'layer'>;

/** Every table name an earlier version of a catalog metric had, whether it exists or not. */
function retiredNames(catalog: Catalog): Map<string, Retired> {
  const names = new Map<string, Retired>();
  for (const { name, version: current } of catalog)
    for (let version = 1; version < current; version++) {
      const metric = { name, version };
      names.set(metricTable(metric), { metric: name, version, layer: 'speed' });
      names.set(batchTable(metric), { metric: name, version, layer: 'batch' });
    }
  return names;
}

/** The tables of earlier metric versions that exist, with their rows and bytes. */
export async function listRetiredTables(client: ClickHouseClient, catalog: Catalog): Promise<RetiredTable[]> {
  const names = retiredNames(catalog);
  if (names.size === 0) return [];
  const result = await client.query({
    query: `SELECT name, total_rows, total_bytes FROM system.tables
            WHERE database = currentDatabase() AND name IN {names:Array(String)} ORDER BY name`,
    query_params: { names: [...names.keys()] },
    format: 'JSONEachRow',
  });
  const found = await result.json<{ name: string; total_rows: string | null; total_bytes: string | null }>();
  return found.map(({ name, total_rows, total_bytes }) => ({
    table: name,
    ...(names.get(name) as Retired),
    rows: Number(total_rows ?? 0),
    bytes: Number(total_bytes ?? 0),
  }));
}

/**
 * Drops `table` if it is a table of an earlier metric version that exists; returns what it held, or
 * undefined (nothing dropped) otherwise. A speed table's view goes first: a view left behind (the
 * speed layer has not started since the version changed) would fail every insert without its table.
 */
export async function dropRetiredTable(
  client: ClickHouseClient,
  catalog: Catalog,
  table: string,
): Promise<RetiredTable | undefined> {
  const retired = (await listRetiredTables(client, catalog)).find((t) => t.table === table);
  if (!retired) return undefined;
  if (retired.layer === 'speed') {
    const view = metricViewName({ name: retired.metric, version: retired.version });
    await client.command({ query: `DROP VIEW IF EXISTS ${ch.quote(view)}` });
  }
  await client.command({ query: `DROP TABLE IF EXISTS ${ch.quote(retired.table)}` });
  return retired;
}
