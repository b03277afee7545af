// Layout of the quarantine lake table: hive-style day partitions of Parquet files, each named by the
// quarantine-topic partition and offset range it holds, so the file names alone say what is written.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { listNames } from './files.ts';

const DAY_DIR = /^day=\d{4}-\d{2}-\d{2}$/;
const PART_FILE = /^part-(\d+)-(\d+)-(\d+)\.parquet$/;
/** In-progress files start with a dot and end in .tmp, so no reader's glob ever matches them. */
const IN_PROGRESS = /^\..*\.tmp$/;

export const quarantineTableDir = (dataDir: string): string => join(dataDir, 'lake', 'quarantine');

/** Every committed file of the table, for read_parquet. */
export const tableGlob = (root: string): string => join(root, 'day=*', '*.parquet');

export const dayDir = (root: string, day: string): string => join(root, `day=${day}`);

export const partFileName = (partition: number, first: bigint, last: bigint): string =>
  `part-${partition}-${first}-${last}.parquet`;

export const inProgressName = (name: string): string => `.${name}.tmp`;

async function dayDirs(root: string): Promise<string[]> {
  return (await listNames(root)).filter((name) => DAY_DIR.test(name)).map((name) => join(root, name));
}

/**
 * The highest quarantine-topic offset already in the table, per partition. Files are renamed into
 * place in offset order, so everything at or below it is written and everything above is not.
 */
export async function writtenOffsets(root: string): Promise<Map<number, bigint>> {
  const highest = new Map<number, bigint>();
  for (const dir of await dayDirs(root)) {
    for (const name of await listNames(dir)) {
      const m = PART_FILE.exec(name);
      if (!m) continue;
      const partition = Number(m[1]);
      const last = BigInt(m[3] as string);
      if (last > (highest.get(partition) ?? -1n)) highest.set(partition, last);
    }
  }
  return highest;
}

/** Removes what a crashed writer left half-written; its records are above the written offsets. */
export async function removeInProgress(root: string): Promise<void> {
  for (const dir of await dayDirs(root)) {
    for (const name of await listNames(dir))
      if (IN_PROGRESS.test(name)) await rm(join(dir, name), { force: true });
  }
}
