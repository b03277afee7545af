// Reading and writing one table's log: snapshots at a version or time, history, commits, checkpoints.
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Action, CommitInfo } from './actions.ts';
import { type LastCheckpoint, readCheckpoint, writeCheckpoint } from './checkpoint.ts';
import { deleteLogBelow, listLog, readVersion, writeVersion } from './files.ts';
import { applyCommit, type Snapshot, snapshotActions } from './snapshot.ts';

/** Which version to read: the latest, a version number, or the latest commit at or before a time. */
export interface SnapshotAt {
  version?: number;
  /** ms since epoch, compared with commitInfo.timestamp. */
  timestamp?: number;
}

export interface HistoryEntry {
  version: number;
  timestamp: number;
  operation: string;
  operationParameters: Record<string, string>;
  filesAdded: number;
  filesRemoved: number;
}

const commitInfoOf = (actions: readonly Action[]): CommitInfo | undefined =>
  actions.find((a): a is { commitInfo: CommitInfo } => 'commitInfo' in a)?.commitInfo;

export class DeltaLog {
  constructor(
    readonly tableDir: string,
    private readonly connection: DuckDBConnection,
  ) {}

  /** The newest committed version, or -1 for a table without a log. */
  async latestVersion(): Promise<number> {
    const { versions } = await listLog(this.tableDir);
    return versions.at(-1) ?? -1;
  }

  async snapshot(at: SnapshotAt = {}): Promise<Snapshot> {
    const version = at.timestamp === undefined ? at.version : await this.versionAt(at.timestamp);
    const { versions, checkpoints } = await listLog(this.tableDir);
    const target = version ?? versions.at(-1);
    if (target === undefined) throw new Error(`no Delta table at ${this.tableDir}`);
    const oldest = versions[0] as number;
    if (target < oldest) {
      throw new Error(
        `${this.tableDir}: version ${target} has expired from the log (its retention); the oldest readable is ${oldest}`,
      );
    }
    if (!versions.includes(target)) throw new Error(`${this.tableDir}: version ${target} does not exist`);
    const checkpoint = checkpoints.filter((v) => v <= target).at(-1);
    if (checkpoint === undefined && oldest > 0) {
      throw new Error(`${this.tableDir}: the log starts at version ${oldest} without a checkpoint there`);
    }
    let snapshot: Snapshot | undefined;
    if (checkpoint !== undefined) {
      // A checkpoint holds no commitInfo: the commit's own file gives the version's timestamp.
      const own = commitInfoOf(await readVersion(this.tableDir, checkpoint));
      const state = await readCheckpoint(this.connection, this.tableDir, checkpoint);
      snapshot = applyCommit(undefined, checkpoint, [...state, ...(own ? [{ commitInfo: own }] : [])]);
    }
    return this.replay(
      snapshot,
      versions.filter((v) => v > (checkpoint ?? -1) && v <= target),
    );
  }

  /** `snapshot` brought forward to the latest version by replaying only the newer commits. */
  async update(snapshot: Snapshot): Promise<Snapshot> {
    const { versions } = await listLog(this.tableDir);
    const newer = versions.filter((v) => v > snapshot.version);
    // The commits right after `snapshot` expired while it was held: start again from a checkpoint.
    if (newer.length > 0 && newer[0] !== snapshot.version + 1) return this.snapshot();
    return this.replay(snapshot, newer);
  }

  private async replay(base: Snapshot | undefined, versions: readonly number[]): Promise<Snapshot> {
    let snapshot = base;
    for (const v of versions) snapshot = applyCommit(snapshot, v, await readVersion(this.tableDir, v));
    if (!snapshot) throw new Error(`no Delta table at ${this.tableDir}`);
    return snapshot;
  }

  /**
   * The latest version committed at or before `timestamp`, by bisection: a few commits read, not the
   * whole log (up to the log's retention, some 50,000 files at a trickle).
   */
  async versionAt(timestamp: number): Promise<number> {
    const { versions } = await listLog(this.tableDir);
    const version = await this.lastCommittedBy(versions, timestamp, 0);
    if (version === undefined) {
      const oldest = versions[0];
      const expired =
        oldest !== undefined && oldest > 0
          ? `; the log's retention keeps versions from ${oldest} (${new Date(await this.timestampOf(oldest)).toISOString()})`
          : '';
      throw new Error(
        `${this.tableDir}: no version committed at or before ${new Date(timestamp).toISOString()}${expired}`,
      );
    }
    return version;
  }

  /**
   * The last of `versions` (ascending) committed at or before `time`, a commit without a time taken
   * as `missing`. Commit timestamps rise with the version (commit()), so it bisects: a few commits
   * read, not the whole log.
   */
  private async lastCommittedBy(
    versions: readonly number[],
    time: number,
    missing: number,
  ): Promise<number | undefined> {
    let lo = 0;
    let hi = versions.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((await this.timestampOf(versions[mid] as number, missing)) <= time) lo = mid + 1;
      else hi = mid;
    }
    return versions[lo - 1];
  }

  /** commitInfo.timestamp of a version's commit; `missing` without one. */
  private async timestampOf(version: number, missing = 0): Promise<number> {
    return commitInfoOf(await readVersion(this.tableDir, version))?.timestamp ?? missing;
  }

  /**
   * The commits, oldest first: the newest `last` of them when given. Each is a file read, and a
   * log kept for a month at a trickle holds ~50,000.
   */
  async history({ last }: { last?: number } = {}): Promise<HistoryEntry[]> {
    if (last !== undefined && (!Number.isInteger(last) || last < 1))
      throw new RangeError(`history: last must be a whole number >= 1, got ${last}`);
    const { versions } = await listLog(this.tableDir);
    const entries: HistoryEntry[] = [];
    for (const version of last === undefined ? versions : versions.slice(-last)) {
      const actions = await readVersion(this.tableDir, version);
      const info = commitInfoOf(actions);
      entries.push({
        version,
        timestamp: info?.timestamp ?? 0,
        operation: info?.operation ?? 'UNKNOWN',
        operationParameters: info?.operationParameters ?? {},
        filesAdded: actions.filter((a) => 'add' in a).length,
        filesRemoved: actions.filter((a) => 'remove' in a).length,
      });
    }
    return entries;
  }

  /**
   * Commits `actions` as `version`, put-if-absent: throws CommitConflictError when another writer
   * took that version first. The commitInfo is added here, its timestamp strictly after the
   * previous commit's so that time travel by timestamp is unambiguous.
   */
  async commit(
    previous: Snapshot | undefined,
    actions: readonly Action[],
    info: Pick<CommitInfo, 'operation' | 'operationParameters'> & { isBlindAppend?: boolean },
  ): Promise<Snapshot> {
    const version = (previous?.version ?? -1) + 1;
    const timestamp = Math.max(Date.now(), (previous?.timestamp ?? 0) + 1);
    const all: Action[] = [{ commitInfo: { timestamp, ...info, engineInfo: 'tidewater-lake' } }, ...actions];
    await writeVersion(this.tableDir, version, all, timestamp);
    return applyCommit(previous, version, all);
  }

  /**
   * Deletes the log older than `cutoff` (ms since epoch), as Delta's log retention does: the commits
   * and checkpoints below the newest checkpoint committed at or before it. Every version committed
   * after `cutoff` stays readable (from that checkpoint on); the ones before it are gone for time
   * travel. Without such a checkpoint nothing goes. Returns how many files it deleted.
   */
  async expire(cutoff: number): Promise<number> {
    const listing = await listLog(this.tableDir);
    const committed = new Set(listing.versions);
    const usable = listing.checkpoints.filter((c) => committed.has(c));
    // A commit without a time (not ours) never counts as old enough.
    const keepFrom = await this.lastCommittedBy(usable, cutoff, Number.POSITIVE_INFINITY);
    if (keepFrom === undefined || keepFrom <= (listing.versions[0] ?? -1)) return 0;
    return deleteLogBelow(this.tableDir, listing, keepFrom);
  }

  async checkpoint(snapshot: Snapshot): Promise<LastCheckpoint> {
    return writeCheckpoint(this.connection, this.tableDir, snapshot.version, snapshotActions(snapshot));
  }
}
