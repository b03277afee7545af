// Logical replication of the captured table, set up idempotently: logical WAL, the table, its
// replica identity (FULL, so an update carries the row before it) and the publication. The
// replication slot is the connector's own (it creates it on its first start).
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import type { Config } from '../../config/index.ts';
import { hasCommand } from './commands.ts';

export type PostgresCdcConfig = Pick<Config, 'cdcDatabaseUrl' | 'cdcTable' | 'cdcPublication'>;

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The connection settings in a postgres:// URL, for the connector as for `pg`. */
export function databaseOf(url: string) {
  const u = new URL(url);
  const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres';
  return {
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username || 'postgres'),
    password: decodeURIComponent(u.password),
    database,
  };
}

async function connect(url: string, database?: string): Promise<pg.Client> {
  const client = new pg.Client({ ...databaseOf(url), ...(database ? { database } : {}) });
  await client.connect();
  return client;
}

const quoted = (identifier: string) => `"${identifier}"`;

/** Network errors that mean no server listens there, as opposed to one that refuses us. */
const NOT_THERE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'EADDRNOTAVAIL']);

/**
 * Whether a PostgreSQL server listens at the URL (its database may not exist yet). A server that
 * refuses the user (password, pg_hba.conf) is an error to show, not an absent server.
 */
export async function postgresAnswers(url: string): Promise<boolean> {
  let client: pg.Client;
  try {
    client = await connect(url, 'postgres');
  } catch (error) {
    if (NOT_THERE.has((error as { code?: string }).code ?? '')) return false;
    const { host, port } = databaseOf(url);
    throw new Error(`PostgreSQL at ${host}:${port} refused the connection: ${(error as Error).message}`);
  }
  await client.end();
  return true;
}

async function ensureDatabase(url: string): Promise<void> {
  const { database } = databaseOf(url);
  if (!IDENTIFIER.test(database))
    throw new Error(`the CDC database name "${database}" is not a plain identifier`);
  const admin = await connect(url, 'postgres');
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) await admin.query(`CREATE DATABASE ${quoted(database)}`);
  } finally {
    await admin.end();
  }
}

/** The Debian cluster (version and name) that listens on `port`, from pg_lsclusters. */
function localCluster(port: number): { version: string; name: string } | undefined {
  if (!hasCommand('pg_lsclusters')) return undefined;
  const out = spawnSync('pg_lsclusters', ['--no-header'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of out.split('\n')) {
    const [version, name, clusterPort] = line.trim().split(/\s+/);
    if (version && name && Number(clusterPort) === port) return { version, name };
  }
  return undefined;
}

/**
 * Turns on logical WAL. The setting takes a restart: a local Debian cluster is restarted here
 * (once: later calls find it set); any other server is left to its administrator, with how.
 */
async function ensureLogicalWal(url: string, log: (line: string) => void): Promise<void> {
  const client = await connect(url, 'postgres');
  let level: string;
  try {
    level = (await client.query<{ wal_level: string }>('SHOW wal_level')).rows[0]?.wal_level ?? '';
    if (level === 'logical') return;
    await client.query('ALTER SYSTEM SET wal_level = logical').catch((error: Error) => {
      throw new Error(
        `PostgreSQL has wal_level=${level}; change data capture needs logical, and setting it failed (${error.message}): set wal_level = logical in postgresql.conf and restart the server`,
      );
    });
  } finally {
    await client.end();
  }
  const { host, port } = databaseOf(url);
  const cluster = LOCAL_HOSTS.has(host) ? localCluster(port) : undefined;
  if (cluster === undefined) {
    throw new Error(
      `PostgreSQL at ${host}:${port} has wal_level=${level}; change data capture needs logical. It is set now (ALTER SYSTEM): restart that server, then run services up again`,
    );
  }
  log(`restarting PostgreSQL ${cluster.version}/${cluster.name} once for wal_level=logical`);
  const r = spawnSync(
    'pg_ctlcluster',
    ['--skip-systemctl-redirect', cluster.version, cluster.name, 'restart'],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`pg_ctlcluster restart failed: ${r.stderr || r.stdout}`);
}

/** The captured table, its replica identity and the publication; nothing is dropped or rewritten. */
async function ensureTableAndPublication(cfg: PostgresCdcConfig): Promise<void> {
  const [schema = 'public', table = 'inventory'] = cfg.cdcTable.split('.');
  const name = `${quoted(schema)}.${quoted(table)}`;
  const client = await connect(cfg.cdcDatabaseUrl);
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoted(schema)}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${name} (
        location_id text NOT NULL,
        product_id text NOT NULL,
        on_hand integer NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (location_id, product_id))`,
    );
    await client.query(`ALTER TABLE ${name} REPLICA IDENTITY FULL`);
    const found = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [cfg.cdcPublication]);
    if (found.rowCount === 0)
      await client.query(`CREATE PUBLICATION ${quoted(cfg.cdcPublication)} FOR TABLE ${name}`);
  } finally {
    await client.end();
  }
}

/** Sets up what change data capture needs in the database; idempotent. */
export async function preparePostgresCdc(cfg: PostgresCdcConfig, log: (line: string) => void): Promise<void> {
  await ensureLogicalWal(cfg.cdcDatabaseUrl, log);
  await ensureDatabase(cfg.cdcDatabaseUrl);
  await ensureTableAndPublication(cfg);
}
