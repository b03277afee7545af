// The log directory on disk: 20-digit version file names, listing, and put-if-absent commits.
import { randomUUID } from 'node:crypto';
import { access, link, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Action, parseAction } from './actions.ts';

export const LOG_DIR = '_delta_log';

export const logDir = (tableDir: string): string => join(tableDir, LOG_DIR);
export const versionFileName = (version: number): string => `${String(version).padStart(20, '0')}.json`;
export const checkpointFileName = (version: number): string =>
  `${String(version).padStart(20, '0')}.checkpoint.parquet`;
export const LAST_CHECKPOINT = '_last_checkpoint';

const VERSION_FILE = /^(\d{20})\.json$/;
const CHECKPOINT_FILE = /^(\d{20})\.checkpoint\.parquet$/;

/** A commit lost the race for its version: another writer created that version file first. */
export class CommitConflictError extends Error {
  constructor(readonly version: number) {
    super(`Delta commit conflict: version ${version} was already committed by another writer`);
    this.name = 'CommitConflictError';
  }
}

export interface LogListing {
  versions: number[];
  checkpoints: number[];
}

/** Versions and checkpoints present, ascending; an absent log lists nothing. */
export async function listLog(tableDir: string): Promise<LogListing> {
  let names: string[];
  try {
    names = await readdir(logDir(tableDir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { versions: [], checkpoints: [] };
    throw err;
  }
  const matching = (re: RegExp) =>
    names
      .map((n) => re.exec(n)?.[1])
      .filter((v): v is string => v !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  return { versions: matching(VERSION_FILE), checkpoints: matching(CHECKPOINT_FILE) };
}

export async function readVersion(tableDir: string, version: number): Promise<Action[]> {
  const name = versionFileName(version);
  const text = await readFile(join(logDir(tableDir), name), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => parseAction(line, `${name}:${i + 1}`));
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes a file durably under a hidden temporary name, so no reader ever sees it half written;
 * `modifiedAt` (ms) sets its modification time.
 */
async function writeTemp(dir: string, finalName: string, text: string, modifiedAt?: number): Promise<string> {
  const temp = join(dir, `.${finalName}.${randomUUID()}.tmp`);
  const handle = await open(temp, 'wx');
  try {
    await handle.writeFile(text);
    if (modifiedAt !== undefined) await handle.utimes(modifiedAt / 1000, modifiedAt / 1000);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return temp;
}

/**
 * Creates `version` put-if-absent: link() refuses an existing name atomically, so exactly one of
 * several concurrent writers wins a version and the others get a CommitConflictError. The file's
 * modification time is set to `timestamp` (the commitInfo's) before it appears: Delta readers
 * without in-commit timestamps (Delta Kernel, Spark) time-travel by that file time, and so they
 * resolve a timestamp to the same version as this log does.
 */
export async function writeVersion(
  tableDir: string,
  version: number,
  actions: readonly Action[],
  timestamp: number,
): Promise<void> {
  const dir = logDir(tableDir);
  await mkdir(dir, { recursive: true });
  // A writer whose snapshot the log's retention expired (DeltaLog.expire) would otherwise find the
  // name of its next version free and commit below the log's start, where no reader looks: the
  // version it builds on must still be there. (Retention is days; this check and the link are ms.)
  if (version > 0) {
    await access(join(dir, versionFileName(version - 1))).catch(() => {
      throw new CommitConflictError(version);
    });
  }
  const temp = await writeTemp(
    dir,
    versionFileName(version),
    actions.map((a) => `${JSON.stringify(a)}\n`).join(''),
    timestamp,
  );
  try {
    await link(temp, join(dir, versionFileName(version)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new CommitConflictError(version);
    throw err;
  } finally {
    await rm(temp, { force: true });
  }
  await fsyncDir(dir);
}

/** Replaces a file atomically (for `_last_checkpoint`, which is a hint that may move forward). */
export async function replaceFile(dir: string, name: string, text: string): Promise<void> {
  const temp = await writeTemp(dir, name, text);
  await rename(temp, join(dir, name));
  await fsyncDir(dir);
}

/**
 * Deletes the commits and checkpoints of `listing` below `keepFrom` (a checkpoint's version), oldest
 * first, so that the log stays a suffix a reader can start at the checkpoint; returns how many it
 * deleted.
 */
export async function deleteLogBelow(
  tableDir: string,
  { versions, checkpoints }: LogListing,
  keepFrom: number,
): Promise<number> {
  const names = [
    ...checkpoints.filter((v) => v < keepFrom).map((v) => ({ v, name: checkpointFileName(v) })),
    ...versions.filter((v) => v < keepFrom).map((v) => ({ v, name: versionFileName(v) })),
  ].sort((a, b) => a.v - b.v);
  for (const { name } of names) await rm(join(logDir(tableDir), name), { force: true });
  if (names.length > 0) await fsyncDir(logDir(tableDir));
  return names.length;
}
