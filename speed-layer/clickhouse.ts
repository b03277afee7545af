// The one way the project gets a ClickHouse client: HTTP to a server when a URL is configured,
// otherwise ClickHouse embedded in this process through chDB. Both are @clickhouse/client, so
// callers run the same SQL on either.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';

export interface ClickHouseOptions {
  /** e.g. `http://localhost:8123`; undefined selects embedded chDB. */
  url?: string;
  /** The project's data directory; embedded ClickHouse keeps its tables in `<dataDir>/clickhouse`. */
  dataDir: string;
}

// libchdb binds one data directory per process and rejects a second while the first is open, so the
// embedded client is shared: every caller in the process gets the same one (speed and serving layers
// included), and closing it releases the binding for everyone.
// chdb types its connection against its own copy of @clickhouse/client-common; the shapes match.
type ClientConnection = NonNullable<Parameters<typeof createClient>[0]>['connection'];

let embedded: { path: string; client: ClickHouseClient; staging: string } | undefined;

export function embeddedPath(dataDir: string): string {
  return join(dataDir, 'clickhouse');
}

/**
 * Where inserts into the embedded engine stage their binary bodies (see insert.ts), or undefined
 * for a server, which takes the body over HTTP instead.
 */
export function insertStagingDir(client: ClickHouseClient): string | undefined {
  return embedded?.client === client ? embedded.staging : undefined;
}

/** The staging directory of `dataDir`, emptied: files left there by a killed process are dead. */
function openStaging(dataDir: string): string {
  const dir = join(dataDir, 'clickhouse-inserts');
  mkdirSync(dir, { recursive: true });
  for (const name of readdirSync(dir)) rmSync(join(dir, name), { force: true });
  return dir;
}

export function createClickHouse({ url, dataDir }: ClickHouseOptions): ClickHouseClient {
  if (url !== undefined) return createClient({ url });
  const path = embeddedPath(dataDir);
  if (embedded) {
    if (embedded.path === path) return embedded.client;
    throw new Error(
      `embedded ClickHouse is already open at ${embedded.path}; one data directory per process`,
    );
  }
  const client = createClient({ connection: createChdbConnection({ path }) as unknown as ClientConnection });
  const close = client.close.bind(client);
  client.close = async () => {
    if (embedded?.client === client) embedded = undefined;
    await close();
  };
  embedded = { path, client, staging: openStaging(dataDir) };
  return client;
}
