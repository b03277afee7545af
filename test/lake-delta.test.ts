import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDuck } from '../duckdb/index.ts';
import { applyCommit } from '../lake/delta-log/snapshot.ts';
import {
  CommitConflictError,
  DeltaLog,
  LOG_DIR,
  listLog,
  openTable,
  readLastCheckpoint,
  readVersion,
  type Snapshot,
  type TableSchema,
} from '../lake/index.ts';

const SCHEMA: TableSchema = {
  name: 'tiny',
  columns: [
    { name: 'id', type: 'string', nullable: false },
    { name: 'ts', type: 'timestamp', nullable: false },
    { name: 'amount', type: 'long', nullable: false },
    { name: 'ok', type: 'boolean', nullable: false },
    { name: 'note', type: 'string', nullable: true, minMax: false },
  ],
  partitionColumns: [{ name: 'day', type: 'date', expr: `strftime(ts, '%Y-%m-%d')` }],
};

const rows = (n: number, day: number, from = 0) =>
  Array.from({ length: n }, (_, i) => ({
    id: `r${from + i}`,
    ts: `2025-01-0${day} 0${i % 10}:00:00.125`,
    amount: from + i,
    ok: i % 2 === 0,
    note: i % 3 === 0 ? null : `n${i}`,
  }));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lake-delta-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const comparable = (s: Snapshot) => ({
  version: s.version,
  timestamp: s.timestamp,
  protocol: s.protocol,
  metadata: s.metadata,
  files: Object.fromEntries(s.files),
  txns: Object.fromEntries(s.txns),
});

describe('Delta log files', () => {
  it('names versions with 20 digits and writes one action object per line', async () => {
    const table = await openTable(dir, SCHEMA);
    await table.appendBatch(rows(5, 1), { txn: [{ appId: 'g:events:0', version: 5 }] });
    table.close();
    const names = (await readdir(join(dir, LOG_DIR))).filter((n) => !n.startsWith('.')).sort();
    expect(names).toEqual(['00000000000000000000.json', '00000000000000000001.json']);
    const lines = (await readFile(join(dir, LOG_DIR, names[1] as string), 'utf8')).trimEnd().split('\n');
    for (const line of lines) expect(Object.keys(JSON.parse(line))).toHaveLength(1);

    const v0 = await readVersion(dir, 0);
    const protocol = v0.find((a) => 'protocol' in a);
    expect(protocol).toEqual({ protocol: { minReaderVersion: 1, minWriterVersion: 2 } });
    const meta = v0.find((a) => 'metaData' in a);
    if (!meta || !('metaData' in meta)) throw new Error('no metaData');
    expect(meta.metaData.format.provider).toBe('parquet');
    expect(meta.metaData.partitionColumns).toEqual(['day']);
    expect(JSON.parse(meta.metaData.schemaString).fields.map((f: { type: string }) => f.type)).toEqual([
      'string',
      'timestamp',
      'long',
      'boolean',
      'string',
      'date',
    ]);

    const v1 = await readVersion(dir, 1);
    expect(v1.find((a) => 'commitInfo' in a)).toMatchObject({ commitInfo: { operation: 'WRITE' } });
    expect(v1.find((a) => 'txn' in a)).toMatchObject({ txn: { appId: 'g:events:0', version: 5 } });
    const add = v1.find((a) => 'add' in a);
    if (!add || !('add' in add)) throw new Error('no add');
    expect(add.add.path).toMatch(/^day=2025-01-01\/part-[0-9a-f-]+\.parquet$/);
    expect(add.add.partitionValues).toEqual({ day: '2025-01-01' });
    expect(add.add.dataChange).toBe(true);
    expect(JSON.parse(add.add.stats as string)).toEqual({
      numRecords: 5,
      minValues: { id: 'r0', ts: '2025-01-01T00:00:00.125Z', amount: 0 },
      maxValues: { id: 'r4', ts: '2025-01-01T04:00:00.125Z', amount: 4 },
      nullCount: { id: 0, ts: 0, amount: 0, ok: 0, note: 2 },
    });
  });

  it('creates each version put-if-absent: the second writer at a version gets a conflict', async () => {
    const table = await openTable(dir, SCHEMA);
    const base = table.current;
    table.close();
    const duck = await openDuck(1);
    try {
      const log = new DeltaLog(dir, duck.connection);
      const info = { operation: 'WRITE', operationParameters: {} };
      await log.commit(base, [{ txn: { appId: 'a', version: 1 } }], info);
      await expect(log.commit(base, [{ txn: { appId: 'b', version: 1 } }], info)).rejects.toBeInstanceOf(
        CommitConflictError,
      );
      expect((await log.snapshot()).txns.has('b')).toBe(false);
      // The loser retries at the next version.
      const retried = await log.commit(await log.snapshot(), [{ txn: { appId: 'b', version: 1 } }], info);
      expect(retried.version).toBe(2);
      expect((await readdir(join(dir, LOG_DIR))).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    } finally {
      duck.close();
    }
  });

  it('reconstructs each version, and a checkpoint plus later commits equals replaying all JSON', async () => {
    const table = await openTable(dir, SCHEMA, { checkpointInterval: 3 });
    for (let i = 0; i < 7; i++) {
      await table.appendBatch(rows(3, 1 + (i % 2), i * 3), {
        txn: [{ appId: 'g:events:0', version: (i + 1) * 3 }],
      });
    }
    await table.optimize({ targetFileSize: 1 << 20 });
    table.close();

    const { versions, checkpoints } = await listLog(dir);
    expect(versions).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(checkpoints).toEqual([3, 6]);
    expect(await readLastCheckpoint(dir)).toMatchObject({ version: 6 });

    const duck = await openDuck(1);
    try {
      const log = new DeltaLog(dir, duck.connection);
      let replayed: Snapshot | undefined;
      for (const v of versions) {
        replayed = applyCommit(replayed, v, await readVersion(dir, v));
        const read = await log.snapshot({ version: v });
        expect(comparable(read)).toEqual(comparable(replayed));
        expect(read.files.size).toBe(v === 8 ? 2 : v);
      }
      expect((await log.snapshot({ version: 8 })).txns.get('g:events:0')?.version).toBe(21);

      const columns = await duck.connection.runAndReadAll(
        `SELECT name FROM parquet_schema('${join(dir, LOG_DIR, '00000000000000000006.checkpoint.parquet')}')
         WHERE name IN ('txn', 'add', 'remove', 'metaData', 'protocol')`,
      );
      expect(
        columns
          .getRowObjectsJS()
          .map((r) => r.name)
          .sort(),
      ).toEqual(['add', 'metaData', 'protocol', 'remove', 'txn']);
    } finally {
      duck.close();
    }
  });

  it('lists history and travels by commit timestamp', async () => {
    const table = await openTable(dir, SCHEMA);
    await table.appendBatch(rows(2, 1));
    await table.appendBatch(rows(2, 2, 2));
    const history = await table.history();
    expect(history.map((h) => [h.version, h.operation, h.filesAdded, h.filesRemoved])).toEqual([
      [0, 'CREATE TABLE', 0, 0],
      [1, 'WRITE', 1, 0],
      [2, 'WRITE', 1, 0],
    ]);
    const [, first, second] = history;
    expect((first?.timestamp ?? 0) < (second?.timestamp ?? 0)).toBe(true);
    expect((await table.snapshot({ timestamp: first?.timestamp })).version).toBe(1);
    expect((await table.snapshot({ timestamp: (second?.timestamp ?? 0) - 1 })).version).toBe(1);
    expect((await table.snapshot({ timestamp: (second?.timestamp ?? 0) + 60_000 })).version).toBe(2);
    await expect(table.snapshot({ timestamp: 0 })).rejects.toThrow(/no version committed/);
    table.close();
  });
});
