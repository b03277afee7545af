// A Delta table of Parquet files: appends that record source offsets, time travel, compaction,
// vacuum and checkpoints. Readers only ever read the files a snapshot lists, so data files written
// without a commit (a crash, a lost race) are invisible until vacuum removes them.
import { randomUUID } from 'node:crypto';
import { access, readdir, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { type Duck, openDuck, sqlStringList } from '../duckdb/index.ts';
import {
  type Action,
  type AddFile,
  CommitConflictError,
  DeltaLog,
  type HistoryEntry,
  type LastCheckpoint,
  LOG_DIR,
  listLog,
  type PartitionValues,
  type RemoveFile,
  type Snapshot,
  type SnapshotAt,
  type Txn,
} from './delta-log/index.ts';
import { addActions, fromLogPath } from './parquet/add-actions.ts';
import { ident, type Row, type StagedBatch, stageRows } from './parquet/stage.ts';
import { filesWithLocalTimestamps, rewriteFiles } from './parquet/write.ts';
import { duckdbType, hiveTypesSql, schemaString, type TableSchema, UTC_TIMESTAMPS } from './schema.ts';
import { Staging } from './staging.ts';
import { type FileProblem, LakeCorruptionError, verifyFiles } from './verify.ts';

export interface LakeTableOptions {
  /** Write a checkpoint after every this many commits (default 10). */
  checkpointInterval?: number;
  /** DuckDB threads of this table's writer (default: DuckDB's, all cores). */
  threads?: number;
}

export interface AppendOptions {
  /** Source progress this commit covers, e.g. appId `<group>:<topic>:<partition>`, version = next offset. */
  txn?: readonly Pick<Txn, 'appId' | 'version'>[];
}

/**
 * Puts a batch into the table's DuckDB connection, or returns undefined when the batch has no rows.
 * Runs while the table holds its connection.
 */
export type Stage = (connection: DuckDBConnection) => Promise<StagedBatch | undefined>;

export interface CommitResult {
  version: number;
  filesAdded: number;
  filesRemoved: number;
}

export interface OptimizeOptions {
  /** Only partitions whose values match these (e.g. `{ date: '2025-01-01', hour: '3' }`). */
  partition?: PartitionValues;
  /**
   * Files not yet three quarters of this are packed into files up to it; larger ones count as full
   * and are left alone.
   */
  targetFileSize?: number;
}

export interface VacuumOptions {
  retentionHours: number;
  /**
   * Files no version ever referenced (a writer killed before its commit) are deleted once this
   * old, without waiting for the retention (default: the retention). Must exceed the time a writer
   * keeps staged files before committing them.
   */
  orphanMinutes?: number;
  /**
   * The log's own retention: commits and checkpoints older than this many hours go (see
   * DeltaLog.expire), and time travel reaches no further back. Absent: the log is kept whole.
   */
  logRetentionHours?: number;
  /** The clock, for tests. */
  now?: number;
}

export interface VacuumResult {
  /** Data files deleted (absolute paths). */
  deleted: string[];
  /** Log files (commits and checkpoints) deleted by the log's retention. */
  logFilesDeleted: number;
}

/** Another writer committed progress for the same appId concurrently: this batch may overlap it. */
export class TxnConflictError extends Error {
  constructor(readonly appId: string) {
    super(`concurrent commit for txn appId ${appId}: refusing to write the same source range twice`);
    this.name = 'TxnConflictError';
  }
}

const DEFAULT_TARGET_FILE_SIZE = 128 * 1024 * 1024;
/**
 * A file of at least this share of the target counts as full. Bins close below the target, so
 * every compacted file is smaller than it: without this, each run would rewrite a ~120 MiB file
 * to take in a few small ones beside it. (Iceberg's min-file-size-bytes default is the same.)
 */
const FULL_SHARE = 0.75;
const HOUR_MS = 3_600_000;

export class LakeTable {
  /**
   * Writes, compactions and checkpoints share one DuckDB connection and its staging table, so they
   * run one at a time: concurrent appends (one per Kafka partition) would mix their staged rows.
   */
  private exclusive: Promise<unknown> = Promise.resolve();

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.exclusive.then(work, work);
    this.exclusive = run.catch(() => undefined);
    return run;
  }

  private constructor(
    readonly dir: string,
    readonly schema: TableSchema,
    private readonly duck: Duck,
    private readonly log: DeltaLog,
    private latest: Snapshot,
    private readonly checkpointInterval: number,
  ) {}

  /** Opens the table at `dir`, creating it when it has no log yet. */
  static async open(dir: string, schema: TableSchema, opts: LakeTableOptions = {}): Promise<LakeTable> {
    const duck = await openDuck(opts.threads);
    try {
      const log = new DeltaLog(dir, duck.connection);
      const latest = (await log.latestVersion()) < 0 ? await create(log, schema) : await log.snapshot();
      if (latest.metadata.schemaString !== schemaString(schema)) {
        throw new Error(`${dir}: the table's schema differs from the one given`);
      }
      return new LakeTable(dir, schema, duck, log, latest, opts.checkpointInterval ?? 10);
    } catch (err) {
      duck.close();
      throw err;
    }
  }

  close(): void {
    this.duck.close();
  }

  /** The newest snapshot this handle knows, without reading the log. */
  get current(): Snapshot {
    return this.latest;
  }

  /** Catches up with commits of other writers. */
  async refresh(): Promise<Snapshot> {
    this.latest = await this.log.update(this.latest);
    return this.latest;
  }

  snapshot(at: SnapshotAt = {}): Promise<Snapshot> {
    return this.log.snapshot(at);
  }

  /** The commits, oldest first: the newest `last` of them when given. */
  history(options: { last?: number } = {}): Promise<HistoryEntry[]> {
    return this.log.history(options);
  }

  /** Where a writer with this appId resumes: the version its last commit recorded. */
  async txnVersion(appId: string): Promise<number | undefined> {
    return (await this.refresh()).txns.get(appId)?.version;
  }

  /**
   * Writes a batch (rows, or a Stage that loads it into DuckDB) as Parquet and commits it with `txn`
   * in one version. A batch of no rows still commits its txn, so offsets advance past batches the
   * gate rejected entirely.
   */
  appendBatch(batch: readonly Row[] | Stage, opts: AppendOptions = {}): Promise<CommitResult> {
    const stage: Stage =
      typeof batch === 'function'
        ? batch
        : async (connection) => (batch.length ? stageRows(connection, this.schema, batch) : undefined);
    return this.serialized(async () => {
      const base = await this.refresh();
      const txns = opts.txn ?? [];
      for (const t of txns) {
        const recorded = base.txns.get(t.appId)?.version;
        if (recorded !== undefined && t.version <= recorded) {
          throw new Error(`txn ${t.appId}: version ${t.version} is already covered (table has ${recorded})`);
        }
      }
      const staging = this.newStaging();
      await this.stageNow(staging, stage);
      const expected = new Map(txns.map((t) => [t.appId, base.txns.get(t.appId)?.version]));
      return this.commitStagingNow(staging, txns, expected);
    });
  }

  /**
   * Batches gathered for one later commit (commitStaging): several small batches make one file per
   * partition instead of one each. Nothing staged is visible before that commit.
   */
  newStaging(): Staging {
    return new Staging(this.duck.connection, this.dir, this.schema);
  }

  /**
   * Adds a batch to `staging`; a batch that fails leaves nothing of it there. `staged` runs once it
   * is there, before any later operation on the table (a commit of the staging) starts.
   */
  stage(staging: Staging, batch: Stage, staged?: () => void): Promise<void> {
    return this.serialized(async () => {
      await this.stageNow(staging, batch);
      staged?.();
    });
  }

  private async stageNow(staging: Staging, batch: Stage): Promise<void> {
    const staged = await batch(this.duck.connection);
    if (staged) await staging.add(staged);
  }

  /**
   * Commits everything `staging` holds with `txn` (asked for when the commit starts, after what was
   * staged before), in one version. `expected` is, per appId, the
   * version the caller saw recorded when it chose which source records to stage: if another
   * writer recorded progress for it since, the staged records may overlap its (TxnConflictError).
   */
  commitStaging(
    staging: Staging,
    txn: () => readonly Pick<Txn, 'appId' | 'version'>[],
    expected: ReadonlyMap<string, number | undefined>,
  ): Promise<CommitResult> {
    return this.serialized(() => this.commitStagingNow(staging, txn(), expected));
  }

  private async commitStagingNow(
    staging: Staging,
    txns: readonly Pick<Txn, 'appId' | 'version'>[],
    expected: ReadonlyMap<string, number | undefined>,
  ): Promise<CommitResult> {
    if (txns.length === 0 && staging.empty) {
      await staging.drop();
      return { version: this.latest.version, filesAdded: 0, filesRemoved: 0 };
    }
    const adds = await staging.files();
    const now = Date.now();
    const actions: Action[] = [
      ...txns.map((t) => ({ txn: { appId: t.appId, version: t.version, lastUpdated: now } })),
      ...adds.map((add) => ({ add })),
    ];
    // Blind appends commute: after a lost race, retry at the next version unless the winner
    // recorded progress for one of our appIds.
    const stillOurs = (s: Snapshot) => {
      const clash = [...expected].find(([appId, version]) => s.txns.get(appId)?.version !== version);
      if (clash) throw new TxnConflictError(clash[0]);
    };
    stillOurs(await this.refresh());
    return this.commit(actions, stillOurs, {
      operation: 'WRITE',
      operationParameters: {
        mode: JSON.stringify('Append'),
        partitionBy: JSON.stringify(this.partitionNames()),
      },
      isBlindAppend: true,
    });
  }

  /**
   * Absolute paths of the files of a snapshot (default: the latest), for `read_parquet([...])`,
   * each checked against its add action first: a missing, truncated or altered file throws
   * LakeCorruptionError rather than being read as data.
   */
  async filesAt(at: SnapshotAt = {}): Promise<string[]> {
    const latest = at.version === undefined && at.timestamp === undefined;
    const snapshot = latest ? await this.refresh() : await this.snapshot(at);
    const problems = await verifyFiles(this.dir, snapshot.files.values());
    if (problems.length > 0) throw new LakeCorruptionError(this.dir, snapshot.version, problems);
    return this.paths(snapshot.files.values());
  }

  /** Every file of a snapshot re-hashed against the log, for `tidewater lake verify`. */
  async verify(at: SnapshotAt = {}): Promise<{ version: number; files: number; problems: FileProblem[] }> {
    const snapshot =
      at.version === undefined && at.timestamp === undefined ? await this.refresh() : await this.snapshot(at);
    const problems = await verifyFiles(this.dir, snapshot.files.values(), true);
    return { version: snapshot.version, files: snapshot.files.size, problems };
  }

  /**
   * A FROM-clause expression reading exactly the snapshot's rows, partition columns included with
   * their declared types. An empty snapshot reads as an empty relation of the same columns.
   */
  readSql(snapshot: Snapshot): string {
    const files = this.paths(snapshot.files.values());
    if (files.length > 0) {
      return `read_parquet(${sqlStringList(files)}, hive_partitioning = true, hive_types = ${hiveTypesSql(this.schema)})`;
    }
    const columns = [...this.schema.columns, ...this.schema.partitionColumns].map(
      (c) => `CAST(NULL AS ${duckdbType(c.type)}) AS ${ident(c.name)}`,
    );
    return `(SELECT ${columns.join(', ')} WHERE false)`;
  }

  /**
   * Packs the small files of each (matching) partition into files of up to targetFileSize, in one
   * commit whose removes and adds say dataChange: false, since no row changes.
   */
  optimize(opts: OptimizeOptions = {}): Promise<CommitResult> {
    return this.serialized(() => this.optimizeNow(opts));
  }

  private async optimizeNow(opts: OptimizeOptions): Promise<CommitResult> {
    const base = await this.refresh();
    const target = opts.targetFileSize ?? DEFAULT_TARGET_FILE_SIZE;
    // A table written before timestamps were adjusted to UTC: its older files are rewritten
    // whatever their size, and once none is left the table says so (UTC_TIMESTAMPS), so later runs
    // skip the footer scan. Versions before keep their files, read as before (utcTimestamp).
    const upgraded = base.metadata.configuration[UTC_TIMESTAMPS] === 'true';
    const live = [...base.files.values()];
    const local = upgraded
      ? new Set<string>()
      : await filesWithLocalTimestamps(this.duck.connection, this.schema, this.paths(live));
    const isLocal = (f: AddFile) => local.has(join(this.dir, fromLogPath(f.path)));
    const wanted = live.filter((f) => matches(f.partitionValues, opts.partition));
    const bins = packFiles(wanted, target, isLocal);
    const rewritesEveryLocal = live.filter(isLocal).every((f) => bins.some((bin) => bin.includes(f)));
    const metadata: Action[] =
      !upgraded && rewritesEveryLocal
        ? [
            {
              metaData: {
                ...base.metadata,
                configuration: { ...base.metadata.configuration, [UTC_TIMESTAMPS]: 'true' },
              },
            },
          ]
        : [];
    if (bins.length === 0 && metadata.length === 0) {
      return { version: base.version, filesAdded: 0, filesRemoved: 0 };
    }
    const now = Date.now();
    const actions: Action[] = [...metadata];
    for (const bin of bins) {
      const partitionDir = dirname(join(this.dir, fromLogPath((bin[0] as AddFile).path)));
      const written = await rewriteFiles(this.duck.connection, partitionDir, this.schema, this.paths(bin));
      const [add] = await addActions(this.duck.connection, this.dir, this.schema, [written], false);
      actions.push(...bin.map((f) => ({ remove: removeOf(f, now) })), { add: add as AddFile });
    }
    // Compaction commutes with appends, not with another compaction of the same files.
    const filesStillLive = (s: Snapshot) => {
      const gone = bins.flat().find((f) => !s.files.has(f.path));
      if (gone) throw new Error(`optimize: ${gone.path} was removed by a concurrent commit`);
    };
    return this.commit(actions, filesStillLive, {
      operation: 'OPTIMIZE',
      operationParameters: {
        predicate: JSON.stringify(opts.partition ?? {}),
        targetFileSize: JSON.stringify(target),
      },
    });
  }

  /**
   * Deletes data files that no version within the retention window references: neither live nor
   * removed after the cutoff; files no version ever referenced once older than the orphan cutoff.
   * Then, with `logRetentionHours`, the log older than its retention.
   */
  vacuum(opts: VacuumOptions): Promise<VacuumResult> {
    return this.serialized(() => this.vacuumNow(opts));
  }

  private async vacuumNow(opts: VacuumOptions): Promise<VacuumResult> {
    const snapshot = await this.refresh();
    const now = opts.now ?? Date.now();
    const cutoff = now - opts.retentionHours * HOUR_MS;
    const orphanCutoff = opts.orphanMinutes === undefined ? cutoff : now - opts.orphanMinutes * 60_000;
    const absolute = (p: string) => join(this.dir, fromLogPath(p));
    const kept = new Set(
      [
        ...snapshot.files.keys(),
        ...[...snapshot.tombstones.values()].filter((r) => r.deletionTimestamp > cutoff).map((r) => r.path),
      ].map(absolute),
    );
    // Checkpoints keep every tombstone whose file exists: a file in neither map was never committed.
    const referenced = new Set([...snapshot.files.keys(), ...snapshot.tombstones.keys()].map(absolute));
    const deleted: string[] = [];
    for (const file of await dataFiles(this.dir)) {
      if (kept.has(file)) continue;
      const { mtimeMs } = await stat(file);
      if (mtimeMs > (referenced.has(file) ? cutoff : Math.max(cutoff, orphanCutoff))) continue;
      await rm(file);
      deleted.push(file);
      await rmdir(dirname(file)).catch(() => undefined); // only succeeds once the partition is empty
    }
    const logFilesDeleted =
      opts.logRetentionHours === undefined
        ? 0
        : await this.log.expire(now - opts.logRetentionHours * HOUR_MS);
    return { deleted, logFilesDeleted };
  }

  /** Writes a checkpoint of the latest version. */
  checkpoint(): Promise<LastCheckpoint> {
    return this.serialized(() => this.checkpointNow());
  }

  private async checkpointNow(): Promise<LastCheckpoint> {
    await this.refresh();
    return this.checkpointLatest();
  }

  /**
   * Checkpoints the latest version without the tombstones of files vacuum has deleted, and keeps
   * them out of this handle's snapshot too. A tombstone only tells vacuum when its file stopped
   * being referenced; kept after the file is gone, it rode along in every later snapshot (copied by
   * each commit's replay) and checkpoint for good: compaction removes each small file the writer
   * commits, 1,600 a day or more at a trickle. Only tombstones of missing files go, so vacuum
   * judges every file that exists as before, whatever its retention.
   */
  private async checkpointLatest(): Promise<LastCheckpoint> {
    const { tombstones } = this.latest;
    const present = await Promise.all(
      [...tombstones.keys()].map((path) =>
        access(join(this.dir, fromLogPath(path))).then(
          () => true,
          (error: NodeJS.ErrnoException) => error.code !== 'ENOENT',
        ),
      ),
    );
    if (present.includes(false)) {
      const kept = [...tombstones].filter((_, i) => present[i]);
      this.latest = { ...this.latest, tombstones: new Map(kept) };
    }
    return this.log.checkpoint(this.latest);
  }

  private partitionNames(): string[] {
    return this.schema.partitionColumns.map((p) => p.name);
  }

  private paths(files: Iterable<AddFile>): string[] {
    return [...files].map((f) => join(this.dir, fromLogPath(f.path)));
  }

  /** Commits at the next version, re-checking `stillValid` against each winner of a lost race. */
  private async commit(
    actions: readonly Action[],
    stillValid: (latest: Snapshot) => void,
    info: Parameters<DeltaLog['commit']>[2],
  ): Promise<CommitResult> {
    for (;;) {
      try {
        this.latest = await this.log.commit(this.latest, actions, info);
        break;
      } catch (err) {
        if (!(err instanceof CommitConflictError)) throw err;
        stillValid(await this.refresh());
      }
    }
    if (this.latest.version % this.checkpointInterval === 0) await this.checkpointLatest();
    return {
      version: this.latest.version,
      filesAdded: actions.filter((a) => 'add' in a).length,
      filesRemoved: actions.filter((a) => 'remove' in a).length,
    };
  }
}

/** Version 0; a creator that loses the race to another reads the winner's table instead. */
async function create(log: DeltaLog, schema: TableSchema): Promise<Snapshot> {
  const actions: Action[] = [
    { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
    {
      metaData: {
        id: randomUUID(),
        name: schema.name,
        format: { provider: 'parquet', options: {} },
        schemaString: schemaString(schema),
        partitionColumns: schema.partitionColumns.map((p) => p.name),
        configuration: { [UTC_TIMESTAMPS]: 'true' },
        createdTime: Date.now(),
      },
    },
  ];
  try {
    return await log.commit(undefined, actions, { operation: 'CREATE TABLE', operationParameters: {} });
  } catch (err) {
    if (err instanceof CommitConflictError) return log.snapshot();
    throw err;
  }
}

const matches = (values: PartitionValues, wanted: PartitionValues | undefined) =>
  Object.entries(wanted ?? {}).every(([k, v]) => values[k] === v);

const removeOf = (f: AddFile, deletionTimestamp: number): RemoveFile => ({
  path: f.path,
  deletionTimestamp,
  dataChange: false,
  extendedFileMetadata: true,
  partitionValues: f.partitionValues,
  size: f.size,
});

/**
 * Per partition, greedily packs the files not yet full (FULL_SHARE of `target`; and those
 * `mustRewrite` says, of any size) into bins of total size up to it; a bin of one small file would
 * only be copied.
 */
function packFiles(
  files: readonly AddFile[],
  target: number,
  mustRewrite: (f: AddFile) => boolean,
): AddFile[][] {
  const byPartition = new Map<string, AddFile[]>();
  for (const f of files.filter((f) => f.size < target * FULL_SHARE || mustRewrite(f))) {
    const key = JSON.stringify(f.partitionValues);
    byPartition.set(key, [...(byPartition.get(key) ?? []), f]);
  }
  const bins: AddFile[][] = [];
  for (const group of byPartition.values()) {
    let bin: AddFile[] = [];
    let size = 0;
    for (const f of group.sort((a, b) => a.path.localeCompare(b.path))) {
      if (bin.length > 0 && size + f.size > target) {
        bins.push(bin);
        bin = [];
        size = 0;
      }
      bin.push(f);
      size += f.size;
    }
    bins.push(bin);
  }
  return bins.filter((b) => b.length > 1 || b.some(mustRewrite));
}

/** Data files under the table root, skipping the log and hidden or underscore-prefixed entries. */
async function dataFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries
      .filter((e) => e.name !== LOG_DIR && !e.name.startsWith('.') && !e.name.startsWith('_'))
      .map((e) => (e.isDirectory() ? dataFiles(join(dir, e.name)) : [join(dir, e.name)])),
  );
  return nested.flat();
}

export const openTable = LakeTable.open;

/** Creates a new table; fails when `dir` already holds one. */
export async function createTable(
  dir: string,
  schema: TableSchema,
  opts: LakeTableOptions = {},
): Promise<LakeTable> {
  if ((await listLog(dir)).versions.length > 0) throw new Error(`${dir} already holds a Delta table`);
  return LakeTable.open(dir, schema, opts);
}
