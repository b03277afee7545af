import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rawSelect } from '../batch-layer/recompute.ts';
import { buildDimensions, indexDimensions } from '../contracts/index.ts';
import { toRawRows } from '../contracts/raw-rows.ts';
import { type Duck, openDuck, sqlStringList } from '../duckdb/index.ts';
import { generate } from '../generator/index.ts';
import {
  CommitConflictError,
  DeltaLog,
  EVENTS_SCHEMA,
  isPrimitive,
  type LakeRow,
  type LakeTable,
  LOG_DIR,
  listLog,
  openTable,
  type Snapshot,
  sha256OfFile,
  TxnConflictError,
  UTC_TIMESTAMPS,
} from '../lake/index.ts';
import { stageRows } from '../lake/parquet/stage.ts';
import { writePartitioned } from '../lake/parquet/write.ts';

const dims = indexDimensions(buildDimensions());

/** Generated events over about two hours, as lake rows with consecutive offsets of one partition. */
/** `count` events from 22:30 on, `rate` a second (the default spreads them over many hours' partitions). */
function lakeRows(count: number, seed: number, firstOffset = 0, rate = 0.04): LakeRow[] {
  const rows: LakeRow[] = [];
  let offset = firstOffset;
  for (const record of generate({ count, seed, rate, start: Date.UTC(2025, 0, 1, 22, 30) })) {
    if (!record.event) continue;
    const json = record.value.toString();
    toRawRows(record.event, dims).forEach((row, i) => {
      rows.push({ ...row, source_partition: 0, source_offset: offset, event: i === 0 ? json : null });
    });
    offset++;
  }
  return rows;
}

let dir: string;
let duck: Duck;
let table: LakeTable;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lake-table-'));
  duck = await openDuck(1);
  table = await openTable(dir, EVENTS_SCHEMA, { threads: 1 });
});
afterEach(async () => {
  table.close();
  duck.close();
  await rm(dir, { recursive: true, force: true });
});

const sqlList = (files: readonly string[]) => `[${files.map((f) => `'${f}'`).join(', ')}]`;

/** Whether each distinct timestamp column of `files` is adjusted to UTC. */
async function utcFlags(files: readonly string[]): Promise<boolean[]> {
  const reader = await duck.connection.runAndReadAll(
    `SELECT DISTINCT logical_type LIKE '%isAdjustedToUTC=1%' FROM parquet_schema(${sqlList(files)})
     WHERE name = 'event_time'`,
  );
  return reader.getRows().map(([flag]) => flag as boolean);
}

/**
 * Turns the table at `tableDir` into one as the lake wrote it before timestamps were adjusted to
 * UTC: each data file rewritten with a TIMESTAMP event_time (the same values), its add action's size
 * and checksum updated, and the UTC_TIMESTAMPS mark taken out of the metadata.
 */
async function downgradeToLocalTimestamps(tableDir: string, session: Duck): Promise<void> {
  const logDir = join(tableDir, LOG_DIR);
  const names = (await readdir(logDir)).filter((n) => n.endsWith('.json')).sort();
  for (const name of names) {
    const lines = (await readFile(join(logDir, name), 'utf8')).trimEnd().split('\n');
    const rewritten: string[] = [];
    for (const line of lines) {
      const action = JSON.parse(line);
      if (action.metaData) action.metaData.configuration = {};
      if (action.add) {
        const file = join(tableDir, decodeURI(action.add.path));
        const local = `${file}.local`;
        await session.connection.run(
          `COPY (SELECT * REPLACE (make_timestamp(epoch_us(event_time)) AS event_time) FROM read_parquet('${file}'))
           TO '${local}' (FORMAT parquet, COMPRESSION zstd)`,
        );
        await rm(file);
        await writeFile(file, await readFile(local));
        await rm(local);
        action.add.size = (await stat(file)).size;
        action.add.tags['tidewater.sha256'] = await sha256OfFile(file);
      }
      rewritten.push(JSON.stringify(action));
    }
    await writeFile(join(logDir, name), `${rewritten.join('\n')}\n`);
  }
  // Checkpoints would still hold the old actions: this table has none yet.
  expect((await readdir(logDir)).some((n) => n.includes('checkpoint'))).toBe(false);
}

interface Totals {
  rows: number;
  events: number;
  revenue: number;
  events_json: number;
}

async function totals(snapshot: Snapshot): Promise<Totals> {
  const reader = await duck.connection.runAndReadAll(
    `SELECT count(*)::INTEGER AS rows, count(DISTINCT event_id)::INTEGER AS events,
            coalesce(sum(line_revenue_minor), 0)::BIGINT::INTEGER AS revenue, count(event)::INTEGER AS events_json
     FROM ${table.readSql(snapshot)}`,
  );
  return reader.getRowObjectsJS()[0] as unknown as Totals;
}

const expected = (rows: readonly LakeRow[]): Totals => ({
  rows: rows.length,
  events: new Set(rows.map((r) => r.event_id)).size,
  revenue: rows.reduce((s, r) => s + r.line_revenue_minor, 0),
  events_json: rows.filter((r) => r.event !== null).length,
});

describe('lake table', () => {
  it('writes typed, hive-partitioned zstd Parquet that DuckDB reads back exactly', async () => {
    const rows = lakeRows(300, 1);
    const result = await table.appendBatch(rows, { txn: [{ appId: 'lake:events:0', version: 300 }] });
    expect(result.version).toBe(1);
    expect(result.filesAdded).toBeGreaterThanOrEqual(2); // the events span several hours and two days
    const snapshot = table.current;
    expect(await totals(snapshot)).toEqual(expected(rows));

    const files = await table.filesAt();
    expect(files.every((f) => /date=2025-01-0[12]\/hour=\d\d\/part-[0-9a-f-]+\.parquet$/.test(f))).toBe(true);
    const schema = await duck.connection.runAndReadAll(
      `SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM ${table.readSql(snapshot)})
       WHERE column_name IN ('event_time', 'total_minor', 'stock_out', 'source_partition', 'event', 'date', 'hour')`,
    );
    expect(Object.fromEntries(schema.getRows())).toEqual({
      event_time: 'TIMESTAMP WITH TIME ZONE',
      total_minor: 'BIGINT',
      stock_out: 'BOOLEAN',
      source_partition: 'INTEGER',
      event: 'VARCHAR',
      date: 'DATE',
      hour: 'INTEGER',
    });
    const codecs = await duck.connection.runAndReadAll(
      `SELECT DISTINCT compression FROM parquet_metadata(${`'${files[0]}'`})`,
    );
    expect(codecs.getRows()).toEqual([['ZSTD']]);
    // Partition values agree with the rows: every row's event_time falls in its file's hour.
    const misplaced = await duck.connection.runAndReadAll(
      `SELECT count(*)::INTEGER FROM ${table.readSql(snapshot)}
       WHERE CAST(event_time AS DATE) <> date OR hour(event_time) <> hour`,
    );
    expect(misplaced.getRows()).toEqual([[0]]);
    const adds = [...snapshot.files.values()];
    expect(adds.reduce((s, f) => s + JSON.parse(f.stats as string).numRecords, 0)).toBe(rows.length);

    // A batch of one partition is written without DuckDB's partitioned COPY, into the same directory.
    const firstHour = rows.filter((r) => r.event_time.slice(0, 13) === rows[0]?.event_time.slice(0, 13));
    const single = await table.appendBatch(firstHour);
    expect(single.filesAdded).toBe(1);
    const [added] = [...table.current.files.values()].filter((f) => !snapshot.files.has(f.path));
    const sameHour = adds.filter(
      (f) => JSON.stringify(f.partitionValues) === JSON.stringify(added?.partitionValues),
    );
    expect(sameHour).toHaveLength(1);
    expect(added?.path.replace(/[^/]*$/, '')).toBe(sameHour[0]?.path.replace(/[^/]*$/, ''));
    expect(JSON.parse(added?.stats as string).numRecords).toBe(firstHour.length);
  });

  it('stores every column as the Parquet type the Delta protocol maps its declared type to', async () => {
    await table.appendBatch(lakeRows(200, 1));
    const files = await table.filesAt();
    const reader = await duck.connection.runAndReadAll(
      `SELECT DISTINCT name, type, logical_type, converted_type FROM parquet_schema(${sqlList(files)})
       WHERE name <> 'duckdb_schema'`,
    );
    const found = new Map(
      reader.getRowObjectsJS().map((r) => [r.name as string, r as Record<string, string | null>]),
    );
    // PROTOCOL.md, "Primitive Types" and the Parquet logical types it names.
    const expectedOf = {
      string: { type: 'BYTE_ARRAY', converted_type: 'UTF8' },
      long: { type: 'INT64', logical_type: null },
      integer: { type: 'INT32' },
      boolean: { type: 'BOOLEAN', logical_type: null },
      timestamp: { type: 'INT64', converted_type: 'TIMESTAMP_MICROS' },
      date: { type: 'INT32', converted_type: 'DATE' },
      binary: { type: 'BYTE_ARRAY', logical_type: null, converted_type: null },
    } as const;
    expect([...found.keys()].sort()).toEqual(EVENTS_SCHEMA.columns.map((c) => c.name).sort());
    // The events table has no nested column: each is one Parquet leaf of a primitive type.
    const columns = EVENTS_SCHEMA.columns.filter(isPrimitive);
    expect(columns).toHaveLength(EVENTS_SCHEMA.columns.length);
    for (const column of columns) {
      const stored = found.get(column.name);
      expect(stored, column.name).toMatchObject(expectedOf[column.type]);
      if (column.type === 'timestamp') expect(stored?.logical_type).toMatch(/isAdjustedToUTC=1\b/);
      if (column.type === 'long') expect(stored?.converted_type ?? 'INT_64').toBe('INT_64');
      if (column.type === 'integer') expect(stored?.converted_type ?? 'INT_32').toBe('INT_32');
    }
  });

  it('optimize upgrades a table written with local timestamps, and its older versions still read', async () => {
    // A table as the lake wrote it before: TIMESTAMP (not adjusted to UTC) files, no UTC_TIMESTAMPS.
    const rows = lakeRows(300, 1);
    await table.appendBatch(rows);
    await table.appendBatch(lakeRows(100, 2, 300));
    const old = await totals(table.current);
    await downgradeToLocalTimestamps(dir, duck);
    const legacy = await openTable(dir, EVENTS_SCHEMA);
    try {
      expect(legacy.current.metadata.configuration[UTC_TIMESTAMPS]).toBeUndefined();
      expect(await utcFlags(await legacy.filesAt())).toEqual([false]);
      const before = legacy.current.version;

      // Even files of full size are rewritten; the commit says the table is upgraded.
      const result = await legacy.optimize({ targetFileSize: 1 });
      expect(result.filesRemoved).toBe(result.filesAdded);
      expect(result.filesAdded).toBe(legacy.current.files.size);
      expect(legacy.current.metadata.configuration[UTC_TIMESTAMPS]).toBe('true');
      expect(await utcFlags(await legacy.filesAt())).toEqual([true]);
      expect(await totals(legacy.current)).toEqual(old);
      // Time travel to the versions before the upgrade reads their (local-timestamp) files.
      expect(await totals(await legacy.snapshot({ version: before }))).toEqual(old);
      expect(await totals(await legacy.snapshot({ version: 1 }))).toEqual(expected(rows));
      // And the batch layer reads both kinds alike.
      const times = async (files: string[]) =>
        (
          await duck.connection.runAndReadAll(
            `SELECT list(event_time ORDER BY event_time, event_id)::VARCHAR FROM (${rawSelect(files, ['event_time', 'event_id'], ['order.created', 'page.view', 'cart.add'])})`,
            { from: '2025-01-01 00:00:00', to: '2025-01-03 00:00:00' },
          )
        ).getRows()[0]?.[0];
      expect(await times(await legacy.filesAt())).toEqual(
        await times(await legacy.filesAt({ version: before })),
      );
      // Nothing more to upgrade: with every file at its target size, nothing is rewritten.
      expect((await legacy.optimize({ targetFileSize: 1 })).filesAdded).toBe(0);
    } finally {
      legacy.close();
    }
  });

  it('time travels by version and timestamp after later appends and an optimize', async () => {
    const first = lakeRows(200, 1);
    const second = lakeRows(200, 2, 200);
    await table.appendBatch(first);
    const [, v1] = await table.history();
    await new Promise((r) => setTimeout(r, 5));
    await table.appendBatch(second);
    await table.appendBatch(lakeRows(100, 3, 400));
    const optimized = await table.optimize();
    expect(optimized.filesRemoved).toBeGreaterThan(0);

    expect(await totals(await table.snapshot({ version: 1 }))).toEqual(expected(first));
    expect(await totals(await table.snapshot({ timestamp: v1?.timestamp }))).toEqual(expected(first));
    expect(await totals(await table.snapshot({ version: 2 }))).toEqual(expected([...first, ...second]));
  });

  it('optimize keeps counts and sums, compacts each partition to one file, and marks dataChange false', async () => {
    const batches = [lakeRows(150, 1), lakeRows(150, 2, 150), lakeRows(150, 3, 300)];
    for (const batch of batches) await table.appendBatch(batch);
    const before = table.current;
    const partitions = new Set([...before.files.values()].map((f) => JSON.stringify(f.partitionValues)));
    expect(before.files.size).toBeGreaterThan(partitions.size);

    const result = await table.optimize({ targetFileSize: 64 << 20 });
    const after = table.current;
    expect(result).toMatchObject({
      version: 4,
      filesRemoved: before.files.size,
      filesAdded: partitions.size,
    });
    expect(after.files.size).toBe(partitions.size);
    expect(await totals(after)).toEqual(expected(batches.flat()));
    expect(await totals(after)).toEqual(await totals(before));

    const log = await readFile(join(dir, LOG_DIR, '00000000000000000004.json'), 'utf8');
    const actions = log
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    const changes = actions.filter((a) => a.add || a.remove).map((a) => (a.add ?? a.remove).dataChange);
    expect(changes.length).toBe(before.files.size + partitions.size);
    expect(changes.every((c) => c === false)).toBe(true);
    expect(actions.find((a) => a.commitInfo)?.commitInfo.operation).toBe('OPTIMIZE');

    // Only one partition when asked; nothing left to do afterwards.
    expect((await table.optimize()).filesAdded).toBe(0);
  });

  it('optimize leaves a file three quarters of the target alone, rather than rewrite it for a small one', async () => {
    // Both batches within 22:30-23:00: one partition.
    await table.appendBatch(lakeRows(2_000, 1, 0, 2));
    await table.appendBatch(lakeRows(20, 2, 2_000, 2));
    const [big, small] = [...table.current.files.values()].map((f) => f.size);
    if (big === undefined || small === undefined || table.current.files.size !== 2)
      throw new Error('expected one file of each batch');
    // Both fit in a target of big / 0.8, so packing by the target alone would rewrite the big one.
    expect(big + small).toBeLessThanOrEqual(big / 0.8);
    expect((await table.optimize({ targetFileSize: Math.floor(big / 0.8) })).filesAdded).toBe(0);
    // At half the target it is not full yet: the two become one.
    const packed = await table.optimize({ targetFileSize: 2 * big });
    expect(packed).toMatchObject({ filesRemoved: 2, filesAdded: 1 });
  });

  it('writes and compacts row groups of about 32,768 rows, which bound what DuckDB holds while writing', async () => {
    // One partition (22:30-22:37): a batch of more than one row group (41,863 rows), and a small one
    // to compact with it.
    await table.appendBatch(lakeRows(40_000, 1, 0, 100));
    await table.appendBatch(lakeRows(20, 2, 40_000, 100));
    const rowGroups = async () => {
      const paths = [...table.current.files.keys()].map((f) => join(dir, f));
      const reader = await duck.connection.runAndReadAll(
        `SELECT max(row_group_num_rows)::INTEGER, count(DISTINCT (file_name, row_group_id))::INTEGER FROM parquet_metadata(${sqlStringList(paths)})`,
      );
      const [largest, groups] = reader.getRowsJS()[0] as [number, number];
      return { largest, groups };
    };
    // DuckDB closes a row group at the first chunk of rows (at most 2,048) that reaches the size.
    const bound = 32_768 + 2_048;
    const written = await rowGroups();
    expect(written.largest).toBeLessThanOrEqual(bound);
    expect(written.groups).toBeGreaterThanOrEqual(3);
    expect(await table.optimize()).toMatchObject({ filesRemoved: 2, filesAdded: 1 });
    const compacted = await rowGroups();
    expect(compacted.largest).toBeLessThanOrEqual(bound);
    expect(compacted.groups).toBeGreaterThanOrEqual(2);
  });

  it('vacuum deletes only files no version within the retention references', async () => {
    await table.appendBatch(lakeRows(150, 1));
    await table.appendBatch(lakeRows(150, 2, 150));
    const removed = [...table.current.files.keys()];
    await table.optimize();
    const live = await table.filesAt();
    const totalsNow = await totals(table.current);

    // Removed a moment ago: still referenced by versions inside a one-hour window.
    expect((await table.vacuum({ retentionHours: 1 })).deleted).toEqual([]);
    expect((await totals(await table.snapshot({ version: 2 }))).rows).toBeGreaterThan(0);

    const later = Date.now() + 2 * 3_600_000;
    const { deleted } = await table.vacuum({ retentionHours: 1, now: later });
    expect(deleted.sort()).toEqual(removed.map((p) => join(dir, p)).sort());
    expect(await totals(table.current)).toEqual(totalsNow);
    expect((await table.filesAt()).sort()).toEqual(live.sort());
  });

  it('vacuum expires the log older than its retention; later versions read as before, a stale writer commits after it', async () => {
    const stale = await openTable(dir, EVENTS_SCHEMA, { threads: 1 });
    try {
      const staleSnapshot = stale.current; // version 0, held while the log moves on
      const batches = Array.from({ length: 12 }, (_, i) => lakeRows(20, i + 1, i * 20));
      for (const rows of batches) await table.appendBatch(rows); // versions 1..12, a checkpoint at 10
      const history = await table.history();
      // The newest few alone, as they are in the whole history.
      expect(await table.history({ last: 3 })).toEqual(history.slice(-3));
      expect(await table.history({ last: 100 })).toEqual(history);
      await expect(table.history({ last: 0 })).rejects.toThrow(/last must be a whole number >= 1, got 0/);
      const at = (version: number) => history.find((h) => h.version === version)?.timestamp as number;
      // Time travel by timestamp bisects the log: each commit's own time finds it, a ms before it its predecessor.
      for (const { version, timestamp } of history.slice(1)) {
        expect((await table.snapshot({ timestamp })).version).toBe(version);
        expect((await table.snapshot({ timestamp: timestamp - 1 })).version).toBe(version - 1);
      }
      const readable = [10, 11, 12];
      const before = await Promise.all(
        readable.map(async (version) => totals(await table.snapshot({ version }))),
      );

      // A retention that reaches back to version 11's commit keeps it readable: from checkpoint 10.
      const hour = 3_600_000;
      const expire = (logRetentionHours: number) =>
        table.vacuum({ retentionHours: 168, logRetentionHours, now: at(11) + logRetentionHours * hour });
      expect((await table.vacuum({ retentionHours: 168 })).logFilesDeleted).toBe(0); // no log retention
      expect((await expire(1)).logFilesDeleted).toBe(10); // commits 0..9; no checkpoint below 10
      expect(await listLog(dir)).toEqual({ versions: readable, checkpoints: [10] });
      expect((await expire(1)).logFilesDeleted).toBe(0);

      for (const [i, version] of readable.entries()) {
        expect(await totals(await table.snapshot({ version }))).toEqual(before[i]);
      }
      expect(await totals(table.current)).toEqual(expected(batches.flat()));
      expect((await table.history()).map((h) => h.version)).toEqual(readable);
      await expect(table.snapshot({ version: 9 })).rejects.toThrow(
        /version 9 has expired from the log \(its retention\); the oldest readable is 10/,
      );
      await expect(table.snapshot({ timestamp: at(9) })).rejects.toThrow(/retention keeps versions from 10/);

      // A writer whose snapshot expired neither commits below the log's start (the name of its next
      // version is free again) nor replays across the gap: it starts again from the checkpoint.
      const log = new DeltaLog(dir, duck.connection);
      await expect(
        log.commit(staleSnapshot, [], { operation: 'WRITE', operationParameters: {} }),
      ).rejects.toThrow(CommitConflictError);
      const more = lakeRows(20, 99, 1_000);
      await stale.appendBatch(more);
      expect(stale.current.version).toBe(13);
      expect((await listLog(dir)).versions).toEqual([...readable, 13]);
      expect(await totals(stale.current)).toEqual(expected([...batches.flat(), ...more]));
      expect(await totals(await table.refresh())).toEqual(expected([...batches.flat(), ...more]));
    } finally {
      stale.close();
    }
  });

  it('checkpoints leave out the tombstones of files vacuum deleted, and keep the others', async () => {
    await table.appendBatch(lakeRows(150, 1));
    await table.appendBatch(lakeRows(150, 2, 150));
    const removed = [...table.current.files.keys()].sort();
    await table.optimize(); // version 3
    const totalsNow = await totals(table.current);
    const reopenedTombstones = async () => {
      const reopened = await openTable(dir, EVENTS_SCHEMA, { threads: 1 });
      try {
        return [...reopened.current.tombstones.keys()].sort();
      } finally {
        reopened.close();
      }
    };

    // The removed files are still there: their tombstones stay, vacuum needs them.
    await table.checkpoint();
    expect(await reopenedTombstones()).toEqual(removed);

    const { deleted } = await table.vacuum({ retentionHours: 0, now: Date.now() + 1000 });
    expect(deleted.length).toBe(removed.length);
    for (let i = 0; i < 7; i++) await table.appendBatch(lakeRows(10, 20 + i, 1_000 + i * 10)); // 4..10
    expect(table.current.version).toBe(10); // the writer's own checkpoint
    expect(table.current.tombstones.size).toBe(0);
    expect(await reopenedTombstones()).toEqual([]);
    expect((await totals(await table.snapshot({ version: 3 }))).rows).toBe(totalsNow.rows);
    expect((await table.vacuum({ retentionHours: 0, now: Date.now() + 1000 })).deleted).toEqual([]);
  });

  it('a crash between writing Parquet and committing changes nothing visible; vacuum removes the orphan', async () => {
    const rows = lakeRows(200, 1);
    await table.appendBatch(rows);
    const before = await totals(table.current);
    const versionBefore = table.current.version;

    // What appendBatch does before its commit, then "crash".
    const orphans = await writePartitioned(
      duck.connection,
      dir,
      EVENTS_SCHEMA,
      await stageRows(duck.connection, EVENTS_SCHEMA, lakeRows(100, 9, 500)),
    );
    expect(orphans.length).toBeGreaterThan(0);

    const reopened = await openTable(dir, EVENTS_SCHEMA);
    try {
      expect(reopened.current.version).toBe(versionBefore);
      expect(await totals(reopened.current)).toEqual(before);
      expect((await reopened.vacuum({ retentionHours: 1 })).deleted).toEqual([]); // too young to judge
      const { deleted } = await reopened.vacuum({ retentionHours: 0, now: Date.now() + 1000 });
      expect(deleted.sort()).toEqual([...orphans].sort());
      expect(await totals(reopened.current)).toEqual(before);
    } finally {
      reopened.close();
    }
  });

  it('vacuum removes files no version ever referenced after the orphan delay, not waiting for the retention', async () => {
    await table.appendBatch(lakeRows(150, 1));
    await table.appendBatch(lakeRows(150, 2, 150));
    const removed = [...table.current.files.keys()].map((p) => join(dir, p));
    await table.optimize();
    const live = await table.filesAt();
    // A writer killed after writing its files and before its commit.
    const orphans = await writePartitioned(
      duck.connection,
      dir,
      EVENTS_SCHEMA,
      await stageRows(duck.connection, EVENTS_SCHEMA, lakeRows(100, 9, 500)),
    );
    const inAMinute = Date.now() + 60_000;
    // Younger than the orphan delay: a live writer's staged files may look just like these.
    expect((await table.vacuum({ retentionHours: 168, orphanMinutes: 5, now: inAMinute })).deleted).toEqual(
      [],
    );
    const { deleted } = await table.vacuum({ retentionHours: 168, orphanMinutes: 0.5, now: inAMinute });
    expect(deleted.sort()).toEqual([...orphans].sort());
    // The files optimize replaced are kept for time travel within the retention.
    expect((await table.filesAt({ version: 2 })).sort()).toEqual(removed.sort());
    expect((await table.filesAt()).sort()).toEqual(live.sort());
  });

  it('records txn versions that a restarted writer resumes from, and refuses covered or contested ranges', async () => {
    const appId = 'tidewater-lake:events:0';
    expect(await table.txnVersion(appId)).toBeUndefined();
    await table.appendBatch(lakeRows(50, 1), { txn: [{ appId, version: 50 }] });
    await table.appendBatch([], {
      txn: [
        { appId, version: 60 },
        { appId: 'tidewater-lake:events:1', version: 7 },
      ],
    });

    const restarted = await openTable(dir, EVENTS_SCHEMA);
    const other = await openTable(dir, EVENTS_SCHEMA);
    try {
      expect(await restarted.txnVersion(appId)).toBe(60);
      expect(await restarted.txnVersion('tidewater-lake:events:1')).toBe(7);
      await expect(restarted.appendBatch(lakeRows(10, 2), { txn: [{ appId, version: 60 }] })).rejects.toThrow(
        /already covered/,
      );

      // Blind appends from two handles both land, at consecutive versions.
      const a = await restarted.appendBatch(lakeRows(20, 3, 60), {
        txn: [{ appId: 'x:events:2', version: 20 }],
      });
      const b = await other.appendBatch(lakeRows(20, 4, 60), { txn: [{ appId: 'x:events:3', version: 20 }] });
      expect([a.version, b.version]).toEqual([3, 4]);

      // Two writers of the same source range: exactly one commits it. Racing, the loser's retry
      // sees the winner's txn (TxnConflictError); sequenced, it sees the range covered.
      const before = await totals(await restarted.refresh());
      const range = lakeRows(30, 5, 70);
      const outcomes = await Promise.allSettled([
        restarted.appendBatch(range, { txn: [{ appId, version: 100 }] }),
        other.appendBatch(range, { txn: [{ appId, version: 100 }] }),
      ]);
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      const [failure] = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(
        failure?.reason instanceof TxnConflictError || /already covered/.test(String(failure?.reason)),
      ).toBe(true);
      const after = await totals(await restarted.refresh());
      expect(after.rows).toBe(before.rows + range.length);
    } finally {
      restarted.close();
      other.close();
    }
  });
});
