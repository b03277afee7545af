// The one way the project gets a ClickHouse client: HTTP to a server when a URL is configured,
// otherwise ClickHouse embedded in this process through chDB. Both are @clickhouse/client, so
// callers run the same SQL on either.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type ClickHouseClient, createClient } from '@clickhouse/client';

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

// libchdb (a 566 MB library whose start runs ClickHouse's initializers: ~290 MB of RSS and seconds)
// is loaded by the first embedded connection, not by every process that imports this module: the
// jobs' child processes import the batch layer but never open ClickHouse (orchestration/job-process.ts).
const load = createRequire(import.meta.url);
function chdbConnection(path: string): ClientConnection {
  const { createChdbConnection } = load('chdb/connection') as typeof import('chdb/connection');
  return createChdbConnection({ path }) as unknown as ClientConnection;
}

export function embeddedPath(dataDir: string): string {
  return join(dataDir, 'clickhouse');
}

/**
 * Where inserts into the embedded engine stage their binary bodies (see insert.ts) and grouped
 * inserts their blocks (sink.ts), or undefined for a server, which takes the body over HTTP instead.
 */
export function insertStagingDir(client: ClickHouseClient): string | undefined {
  return embedded?.client === client ? embedded.staging : undefined;
}

/** A grouped insert's staged block (sink.ts): kept across restarts, a replay may need it. */
const STAGED_GROUP_FILE = /^group-[0-9a-f]{40}\.bin$/;

/** Where the block of the grouped insert named `token` is staged in `staging`. */
export function stagedGroupFile(staging: string, token: string): string {
  return join(staging, `group-${createHash('sha1').update(token).digest('hex')}.bin`);
}

/**
 * A staged block stays until its group is committed. One left behind by a crash after that commit
 * is never read again; it is removed at the first open after this long. A group still pending
 * this long (no speed layer ran meanwhile) cannot be replayed exactly and says so.
 */
const STAGED_GROUP_MAX_AGE_MS = 7 * 86_400_000;

/**
 * The staging directory of `dataDir`: transient bodies left there by a killed process are dead, and
 * so are staged blocks past their age.
 */
function openStaging(dataDir: string): string {
  const dir = join(dataDir, 'clickhouse-inserts');
  mkdirSync(dir, { recursive: true });
  const now = Date.now();
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (STAGED_GROUP_FILE.test(name) && now - statSync(path).mtimeMs < STAGED_GROUP_MAX_AGE_MS) continue;
    rmSync(path, { force: true });
  }
  return dir;
}

/**
 * Another session of the engine `client` talks to, with session settings of its own (the SQL
 * endpoint's read-only sessions): a second chDB connection on the same data directory, which runs
 * its queries beside the first one's; or, for a server, a client of `url` (a user whose profile
 * holds the settings) in `database`.
 */
export function openClickHouseSession(
  client: ClickHouseClient,
  server: { url?: string; database?: string },
): ClickHouseClient {
  if (embedded?.client === client) return createClient({ connection: chdbConnection(embedded.path) });
  if (server.url === undefined)
    throw new Error('a session of a ClickHouse server needs the URL of the user it runs as');
  return createClient({ url: server.url, database: server.database });
}

/** Whether `client` is this process's embedded chDB (whose files are this process's to name). */
export const isEmbedded = (client: ClickHouseClient): boolean => embedded?.client === client;

/**
 * A chDB session for work that reads no table (the SQL endpoint converts answers between formats
 * there): on this process's data directory when ClickHouse is embedded here, since libchdb binds one
 * per process, and in memory otherwise.
 */
export function openLocalSession(client: ClickHouseClient): ClickHouseClient {
  const path = embedded?.client === client ? embedded.path : ':memory:';
  return createClient({ connection: chdbConnection(path) });
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
  const client = createClient({ connection: chdbConnection(path) });
  const close = client.close.bind(client);
  client.close = async () => {
    if (embedded?.client === client) embedded = undefined;
    await close();
  };
  embedded = { path, client, staging: openStaging(dataDir) };
  return client;
}
