// The one way the platform opens DuckDB: embedded, in memory, in UTC, spilling to a directory of
// its own.
import { randomUUID } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

export interface Duck {
  readonly connection: DuckDBConnection;
  close(): void;
}

/**
 * Threads of a DuckDB that works in bursts beside the rest of the process: the lake's streaming
 * writers. With more, DuckDB's background workers call glibc's `malloc_trim` each time they have
 * been idle for 0.5 s (`Allocator::ThreadFlush`), which hands every free page of every arena of the
 * process back to the kernel; a writer idles between ranges, so in the all-in-one soak it trimmed
 * every 1-1.5 s and every layer faulted its memory in again (~19,000 page faults/s, ~12 µs each on
 * the virtual machine measured). On one thread DuckDB has no background worker and never trims:
 * 13,100-16,200 faults/s against 17,500-19,500, and 22.9-26.9 µs of platform CPU per event taken
 * against 29.6-30.0, in 2 interleaved pairs of 3-minute soaks (docs/soak.md, "Page faults").
 */
export const BURST_THREADS = 1;

/**
 * Threads of the scheduled jobs' DuckDB (compaction and the day's recompute), which run beside the
 * consumers in the all-in-one platform: on one thread a job leaves the consumers a core.
 * Compaction's memory also grows with the threads (its COPY holds row groups per thread): packing a
 * day of the soak's traffic (6M events in 60 files) into 4 files peaked at +322 MB of RSS on one
 * thread against +981 MB with DuckDB's default of one per core (2 here). The recompute's did not
 * (+534 against +547 MB, with the load into ClickHouse). `npm run bench:jobs`, medians of 3; on a
 * larger machine the default would multiply the memory with the cores.
 */
export const JOB_THREADS = 1;

const SPILL_PREFIX = 'tidewater-duckdb-';
let swept = false;

/**
 * Removes from `dir` the spill directories of processes that are gone: one killed while its DuckDB
 * spilled (SIGKILL, the kernel's OOM killer) never removed its own, and its files, up to the size of
 * the data that did not fit in memory, are of no use to anyone. A directory whose process still runs
 * (or belongs to another user: EPERM) is left alone, as is one named for this process (another of
 * its threads, with a module of its own, may be spilling there) and one that cannot be removed. The
 * process is told by the pid in the name, so deployments in separate pid namespaces (containers)
 * must not share one temporary directory.
 */
function sweepOrphanedSpills(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(SPILL_PREFIX)) continue;
    const pid = Number.parseInt(name.slice(SPILL_PREFIX.length), 10);
    if (!(pid > 0) || pid === process.pid || isRunning(pid)) continue;
    try {
      rmSync(join(dir, name), { recursive: true, force: true });
    } catch {
      // Not ours to remove (another user's, a read-only mount): left where it is.
    }
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * An in-memory DuckDB that reads and writes timestamps as UTC whatever the machine's zone.
 * `threads` bounds the cores one user (a lake writer) takes from the rest of the process.
 *
 * Past its memory limit (by default 80% of the memory it detects) DuckDB spills to disk, by
 * default to `.tmp` in the working directory, shared by every instance in the process: the lake
 * writer's, the quarantine's and each job's. Two instances spilling there at once crashed the
 * process (SIGSEGV, 3 runs of 3; test/duckdb-open.test.ts). Each instance spills instead to a
 * directory of its own under the system's temporary directory (`TMPDIR`), removed when it closes.
 * DuckDB makes it only once it spills, so a process killed without spilling leaves nothing there;
 * what one killed while spilling left is removed by the next process that opens DuckDB.
 */
export async function openDuck(threads?: number): Promise<Duck> {
  if (!swept) {
    swept = true;
    sweepOrphanedSpills(tmpdir());
  }
  const spill = join(tmpdir(), `${SPILL_PREFIX}${process.pid}-${randomUUID()}`);
  const removeSpill = () => rmSync(spill, { recursive: true, force: true });
  let instance: DuckDBInstance | undefined;
  let connection: DuckDBConnection | undefined;
  const close = () => {
    connection?.closeSync();
    instance?.closeSync();
    removeSpill();
  };
  try {
    instance = await DuckDBInstance.create(':memory:', {
      temp_directory: spill,
      // DuckDB's external file cache (on by default since 1.3) keeps the blocks it reads of every
      // file, by path, and lets them go only at its memory limit (80% of the machine's). Nothing here
      // reads a file it has just read: a lake writer reads the footer of each file it writes and held
      // ~16 KB more for every one, without bound (1.3 MB after 80 files); compaction reads each small
      // file once and held what it read (peak +270 MB against +339 with it); the recompute's
      // per-metric scans re-read the day's files, which the kernel's page cache serves as fast
      // (3.9 s in DuckDB against 4.2). Medians of 3 interleaved runs; docs/lake.md, "Compaction,
      // checkpoints and vacuum".
      enable_external_file_cache: 'false',
      ...(threads ? { threads: String(threads) } : {}),
    });
    connection = await instance.connect();
    await connection.run(`SET TimeZone = 'UTC'`);
    return { connection, close };
  } catch (error) {
    // An instance that opened but could not be set up is closed here: no caller holds it.
    close();
    throw error;
  }
}
