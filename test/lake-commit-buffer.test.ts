// The lake writer's commit policy over a real table: ranges staged as they come, committed together
// by age or size in one version with a txn per source partition; a range whose stage fails leaves
// nothing behind; a commit whose txns another writer moved does not land.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildDimensions, indexDimensions } from '../contracts/index.ts';
import { generate } from '../generator/index.ts';
import { CommitBuffer } from '../lake/commit-buffer.ts';
import { EVENTS_SCHEMA, type LakeTable, openTable, stageAccepted, TxnConflictError } from '../lake/index.ts';
import type { AcceptedRecord } from '../quality/index.ts';

const dims = indexDimensions(buildDimensions());

/** `count` generated events as the gate accepts them, at offsets from `first` of one partition. */
function accepted(count: number, seed: number, first: number): AcceptedRecord[] {
  const records: AcceptedRecord[] = [];
  for (const { event, value } of generate({ count, seed, rate: 50, start: Date.UTC(2025, 5, 1, 10) })) {
    if (!event) continue;
    const offset = first + records.length;
    records.push({
      source: { topic: 'events', partition: 0, offset: String(offset), key: null, value, timestamp: 0 },
      event,
      eventTimeMs: Date.parse(event.eventTime),
      late: false,
      warnings: [],
    });
  }
  return records;
}

let dir: string;
let table: LakeTable;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lake-commit-buffer-'));
  table = await openTable(dir, EVENTS_SCHEMA, { threads: 1 });
});
afterEach(async () => {
  table.close();
  await rm(dir, { recursive: true, force: true });
});

const events = async () =>
  [...(await table.refresh()).files.values()].reduce((n, f) => n + JSON.parse(f.stats ?? '{}').numRecords, 0);

describe('commit buffer', () => {
  it('commits by age: many small ranges of two partitions in one version, one file per partition-hour', async () => {
    // Twenty ranges are staged well within the age (a fraction of a second).
    const buffer = new CommitBuffer(table, { maxBytes: 1 << 30, maxAgeMs: 3_000 });
    const durable: Promise<void>[] = [];
    for (let i = 0; i < 10; i++) {
      for (const appId of ['g:events:0', 'g:events:1']) {
        expect((await buffer.held(appId)).from).toBe(i * 50);
        const range = accepted(50, i + (appId.endsWith('1') ? 100 : 0), i * 50);
        durable.push((await buffer.add(appId, (i + 1) * 50, stageAccepted(range, dims))).durable);
      }
    }
    await Promise.all(durable);
    const snapshot = await table.refresh();
    expect(snapshot.version).toBe(1);
    expect(Object.fromEntries([...snapshot.txns].map(([k, v]) => [k, v.version]))).toEqual({
      'g:events:0': 500,
      'g:events:1': 500,
    });
    const partitions = new Set([...snapshot.files.values()].map((f) => JSON.stringify(f.partitionValues)));
    expect(snapshot.files.size).toBe(partitions.size);
    expect(await events()).toBeGreaterThanOrEqual(1_000);
  });

  it('commits on request without waiting for the age, and a request with nothing staged commits nothing', async () => {
    const buffer = new CommitBuffer(table, { maxBytes: 1 << 30, maxAgeMs: 600_000 });
    const before = (await table.refresh()).version;
    await buffer.commitNow();
    expect((await table.refresh()).version).toBe(before);
    const range = accepted(50, 3, 0);
    const { durable } = await buffer.add('g:events:0', range.length, stageAccepted(range, dims));
    // The age is ten minutes: without the request, `durable` would outlast the test's time-out.
    await buffer.commitNow();
    await durable;
    const snapshot = await table.refresh();
    expect(snapshot.version).toBe(before + 1);
    expect(snapshot.txns.get('g:events:0')?.version).toBe(range.length);
    expect(await events()).toBeGreaterThanOrEqual(range.length);
  });

  it('commits by size before the age, and a drain commits what is left at once', async () => {
    // About 90 bytes of Parquet per row: ranges of 400 events pass 100 kB every few ranges.
    const buffer = new CommitBuffer(table, { maxBytes: 100_000, maxAgeMs: 3_600_000 });
    const durable: Promise<void>[] = [];
    for (let i = 0; i < 8; i++) {
      durable.push(
        (await buffer.add('g:events:0', (i + 1) * 400, stageAccepted(accepted(400, i, i * 400), dims)))
          .durable,
      );
    }
    const bySize = (await table.refresh()).version;
    expect(bySize).toBeGreaterThanOrEqual(2);
    expect(bySize).toBeLessThan(8);
    await buffer.drain();
    await Promise.all(durable);
    expect((await table.refresh()).txns.get('g:events:0')?.version).toBe(3_200);
    expect(await table.txnVersion('g:events:0')).toBe(3_200);
  });

  it('holds at most one buffer of rows in DuckDB however much a commit gathers, and loses none of them', async () => {
    // Ranges of 12,000 events are buffered (under the 25,000 rows written straight to files); the
    // buffer is written to files every 50,000 rows. A buffer emptied by DELETE kept every row's
    // storage until the commit: 137 MB of DuckDB memory here by the last range, against 43 MB now.
    const buffer = new CommitBuffer(table, { maxBytes: 1 << 30, maxAgeMs: 3_600_000 });
    let heldMb = 0;
    const measure = async (connection: DuckDBConnection) => {
      const reader = await connection.runAndReadAll('SELECT sum(memory_usage_bytes) FROM duckdb_memory()');
      heldMb = Math.max(heldMb, Number(reader.getRowsJS()[0]?.[0] ?? 0) / 2 ** 20);
      return undefined;
    };
    const durable: Promise<void>[] = [];
    let staged = 0;
    for (let i = 0; i < 15; i++) {
      const range = accepted(12_000, i, staged);
      staged += range.length;
      durable.push((await buffer.add('g:events:0', staged, stageAccepted(range, dims))).durable);
      await table.stage(table.newStaging(), measure);
    }
    await buffer.drain();
    await Promise.all(durable);
    expect(heldMb).toBeGreaterThan(0);
    expect(heldMb).toBeLessThan(70);
    // Every staged event is in the table once: an order is a row per line, so offsets, not rows.
    let offsets: unknown[] = [];
    await table.stage(table.newStaging(), async (connection) => {
      const read = `SELECT count(DISTINCT source_offset), min(source_offset), max(source_offset) FROM ${table.readSql(await table.refresh())}`;
      offsets = (await connection.runAndReadAll(read)).getRowsJS()[0] ?? [];
      return undefined;
    });
    expect(offsets.map(Number)).toEqual([staged, 0, staged - 1]);
  });

  it('a range whose stage fails leaves nothing behind; a commit whose txn another writer moved does not land', async () => {
    const buffer = new CommitBuffer(table, { maxBytes: 1 << 30, maxAgeMs: 3_600_000 });
    const ok = await buffer.add('g:events:0', 100, stageAccepted(accepted(100, 1, 0), dims));
    await expect(
      buffer.add('g:events:1', 100, async () => {
        throw new Error('poison');
      }),
    ).rejects.toThrow('poison');
    expect((await buffer.held('g:events:1')).from).toBe(0);
    await buffer.drain();
    await ok.durable;
    expect([...(await table.refresh()).txns.keys()]).toEqual(['g:events:0']);

    // Another writer commits progress for the same partition while a range waits for its commit.
    const late = new CommitBuffer(table, { maxBytes: 1 << 30, maxAgeMs: 3_600_000 });
    const waiting = await late.add('g:events:0', 200, stageAccepted(accepted(100, 2, 100), dims));
    const heldByLate = await late.held('g:events:0');
    const other = await openTable(dir, EVENTS_SCHEMA);
    try {
      await other.appendBatch(stageAccepted(accepted(100, 2, 100), dims), {
        txn: [{ appId: 'g:events:0', version: 200 }],
      });
    } finally {
      other.close();
    }
    const before = await events();
    await late.drain().catch(() => undefined);
    await expect(waiting.durable).rejects.toBeInstanceOf(TxnConflictError);
    await expect(heldByLate.durable).rejects.toBeInstanceOf(TxnConflictError);
    expect(await events()).toBe(before);
  });

  it('says records held by a batch on its way are durable with that batch’s commit, not before', async () => {
    // A partition's earlier owner in this process staged a range; its next owner finds it held.
    const buffer = new CommitBuffer(table, { maxBytes: 1 << 30, maxAgeMs: 3_600_000 });
    await buffer.add('g:events:0', 100, stageAccepted(accepted(100, 3, 0), dims));
    const held = await buffer.held('g:events:0');
    expect(held.from).toBe(100);
    let durable = false;
    void held.durable.then(() => {
      durable = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(durable).toBe(false);
    await buffer.drain();
    await held.durable;
    expect(await table.txnVersion('g:events:0')).toBe(100);
    // Held by the lake alone: durable at once.
    const fresh = new CommitBuffer(table, { maxBytes: 1 << 30, maxAgeMs: 3_600_000 });
    const inLake = await fresh.held('g:events:0');
    expect(inLake.from).toBe(100);
    await inLake.durable;
  });
});
