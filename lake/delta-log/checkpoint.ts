// Checkpoints: the reconciled actions at a version as Parquet, one action per row in the protocol's
// struct columns, so a reader starts there instead of replaying every JSON commit.
import { randomUUID } from 'node:crypto';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { sqlString } from '../../duckdb/index.ts';
import { type Action, parseAction } from './actions.ts';
import { checkpointFileName, LAST_CHECKPOINT, logDir, replaceFile } from './files.ts';

const STRING_MAP = 'MAP(VARCHAR, VARCHAR)';
/** The checkpoint schema of PROTOCOL.md, without the optional *_parsed columns. */
const CHECKPOINT_COLUMNS = {
  txn: 'STRUCT(appId VARCHAR, version BIGINT, lastUpdated BIGINT)',
  add: `STRUCT(path VARCHAR, partitionValues ${STRING_MAP}, size BIGINT, modificationTime BIGINT, dataChange BOOLEAN, stats VARCHAR, tags ${STRING_MAP})`,
  remove: `STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN, extendedFileMetadata BOOLEAN, partitionValues ${STRING_MAP}, size BIGINT)`,
  metaData: `STRUCT(id VARCHAR, name VARCHAR, format STRUCT(provider VARCHAR, options ${STRING_MAP}), schemaString VARCHAR, partitionColumns VARCHAR[], configuration ${STRING_MAP}, createdTime BIGINT)`,
  protocol: 'STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER)',
};
const columnsSql = `{${Object.entries(CHECKPOINT_COLUMNS)
  .map(([name, type]) => `${name}: '${type}'`)
  .join(', ')}}`;

export interface LastCheckpoint {
  version: number;
  /** Number of actions in the checkpoint. */
  size: number;
}

/** Writes `<version>.checkpoint.parquet` (atomically, by rename) and then `_last_checkpoint`. */
export async function writeCheckpoint(
  connection: DuckDBConnection,
  tableDir: string,
  version: number,
  actions: readonly Action[],
): Promise<LastCheckpoint> {
  const dir = logDir(tableDir);
  const name = checkpointFileName(version);
  const staged = join(dir, `.${name}.${randomUUID()}.ndjson`);
  const temp = join(dir, `.${name}.${randomUUID()}.tmp`);
  try {
    await writeFile(staged, actions.map((a) => JSON.stringify(a)).join('\n'));
    await connection.run(
      `COPY (SELECT * FROM read_json(${sqlString(staged)}, format = 'newline_delimited', columns = ${columnsSql}))
       TO ${sqlString(temp)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    await rename(temp, join(dir, name));
  } finally {
    await rm(staged, { force: true });
    await rm(temp, { force: true });
  }
  const last: LastCheckpoint = { version, size: actions.length };
  await replaceFile(dir, LAST_CHECKPOINT, JSON.stringify(last));
  return last;
}

export async function readLastCheckpoint(tableDir: string): Promise<LastCheckpoint | undefined> {
  try {
    return JSON.parse(await readFile(join(logDir(tableDir), LAST_CHECKPOINT), 'utf8')) as LastCheckpoint;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Parquet nulls stand for absent optional fields; JSON actions simply omit them. */
const withoutNulls = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null));

export async function readCheckpoint(
  connection: DuckDBConnection,
  tableDir: string,
  version: number,
): Promise<Action[]> {
  const path = join(logDir(tableDir), checkpointFileName(version));
  await stat(path);
  const reader = await connection.runAndReadAll(
    `SELECT to_json(t)::VARCHAR AS action FROM read_parquet(${sqlString(path)}) t`,
  );
  return reader.getRowObjectsJS().map((row, i) => {
    const columns = JSON.parse(row.action as string) as Record<string, Record<string, unknown> | null>;
    const [key, value] = Object.entries(columns).find(([, v]) => v !== null) ?? [];
    if (!key || !value) throw new Error(`${path}: row ${i} holds no action`);
    return parseAction(JSON.stringify({ [key]: withoutNulls(value) }), `${path}:${i}`);
  });
}
