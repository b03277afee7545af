// A record the gate let through and a sink's engine still refuses: each layer isolates it from its
// range with the engine's own words (rule sink.rejected), delivers the rest, and decides the same
// when the range is delivered again (for the lake, also when it already holds the range). The records here skip the gate on purpose (a lone surrogate,
// a line revenue past 2^63, which the gate refuses today), to stand for what no check foresaw.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDimensions, indexDimensions, type TidewaterEvent } from '../contracts/index.ts';
import { openDuck } from '../duckdb/index.ts';
import { generate } from '../generator/index.ts';
import { CommitBuffer } from '../lake/commit-buffer.ts';
import { createLakeSink, EVENTS_SCHEMA, type LakeTable, openTable, txnAppId } from '../lake/index.ts';
import { refusedByDuckDB } from '../lake/isolate.ts';
import type { GatedRange } from '../pipeline/index.ts';
import type { AcceptedRecord, BatchReport, RejectedRecord } from '../quality/index.ts';
import { prepareInsert } from '../speed-layer/index.ts';

const dimensions = buildDimensions();
const index = indexDimensions(dimensions);
const events = [...generate({ seed: 31, count: 400, start: '2025-07-01T08:00:00Z', rate: 100 })]
  .filter((r) => r.kind === 'good')
  .map((r) => r.event as TidewaterEvent);

const accepted = (event: TidewaterEvent, offset: number, value = JSON.stringify(event)): AcceptedRecord => ({
  source: {
    topic: 'events',
    partition: 2,
    offset: String(offset),
    key: null,
    value: Buffer.from(value),
    timestamp: 0,
  },
  event,
  eventTimeMs: Date.parse(event.eventTime),
  late: false,
  warnings: [],
});

const report = { at: 0 } as BatchReport;
const range = (records: readonly AcceptedRecord[]): GatedRange<readonly AcceptedRecord[]> => ({
  accepted: records,
  rejected: [],
  refused: [],
  report,
});

describe('the lake writer', () => {
  let dir: string;
  let table: LakeTable;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tidewater-isolation-'));
    table = await openTable(join(dir, 'events'), EVENTS_SCHEMA);
  });
  afterAll(async () => {
    table.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The range's records, every 50th one's bytes holding a lone surrogate DuckDB refuses. */
  const records = events.map((event, i) =>
    accepted(
      event,
      1_000 + i,
      i % 50 === 7
        ? JSON.stringify(event).replace(`"userId":"${event.userId}"`, '"userId":"\\ud800"')
        : undefined,
    ),
  );
  const poisoned = records.filter((_, i) => i % 50 === 7);

  async function offsetsInLake(): Promise<number[]> {
    const duck = await openDuck();
    try {
      const rows = await duck.connection.runAndReadAll(
        `SELECT DISTINCT source_offset FROM ${table.readSql(await table.refresh())} ORDER BY 1`,
      );
      return rows.getRowObjectsJS().map((r) => Number(r.source_offset));
    } finally {
      duck.close();
    }
  }

  const offsetsOf = (refused: readonly RejectedRecord[]) => refused.map((r) => Number(r.source.offset));
  const token = (from: readonly AcceptedRecord[]) =>
    `events:2:${from[0]?.source.offset}-${from[from.length - 1]?.source.offset}`;

  it('commits a range without the records DuckDB refuses and hands those back with its message', async () => {
    expect(poisoned.length).toBeGreaterThanOrEqual(6);
    const sink = createLakeSink({
      buffer: new CommitBuffer(table, { maxBytes: 1 << 30, maxAgeMs: 50 }),
      groupId: 'g',
      dimensions: () => index,
    });
    const before = table.current.version;
    const taken = await sink.take(token(records), range(records));
    await taken.durable;

    expect(offsetsOf(taken.refused)).toEqual(poisoned.map((r) => Number(r.source.offset)));
    for (const refused of taken.refused) {
      expect(refused.failures).toEqual([
        {
          ruleId: 'sink.rejected',
          severity: 'quarantine',
          message: expect.stringMatching(/^DuckDB: .*surrogate/),
        },
      ]);
      expect(refused.failures[0]?.message).not.toContain('Input:');
    }
    expect(table.current.version).toBe(before + 1); // one commit for the range
    expect(await table.txnVersion(txnAppId('g', 'events', 2))).toBe(1_000 + records.length);
    const kept = records.filter((r) => !poisoned.includes(r)).map((r) => Number(r.source.offset));
    expect(await offsetsInLake()).toEqual(kept);

    // Taken again after a crash before its Kafka commit (a new writer, Kafka's offset behind the
    // lake's txn), in ranges cut elsewhere: the held records are refused alike, nothing is
    // rewritten, and a range straddling the lake's txn stages only what lies past it.
    const restarted = createLakeSink({
      buffer: new CommitBuffer(table, { maxBytes: 1 << 30, maxAgeMs: 50 }),
      groupId: 'g',
      dimensions: () => index,
    });
    const held = records.slice(0, 150);
    const again = await restarted.take(token(held), range(held));
    await again.durable;
    expect(offsetsOf(again.refused)).toEqual(offsetsOf(taken.refused).filter((o) => o < 1_150));
    expect(table.current.version).toBe(before + 1);

    const next = events
      .slice(0, 60)
      .map((event, i) =>
        accepted(
          event,
          1_000 + records.length + i,
          i === 13
            ? JSON.stringify(event).replace(`"userId":"${event.userId}"`, '"userId":"\\udfff"')
            : undefined,
        ),
      );
    const straddling = [...records.slice(150), ...next];
    const last = await restarted.take(token(straddling), range(straddling));
    await last.durable;
    expect(offsetsOf(last.refused)).toEqual([
      ...offsetsOf(taken.refused).filter((o) => o >= 1_150),
      1_000 + records.length + 13,
    ]);
    expect(table.current.version).toBe(before + 2);
    expect(await offsetsInLake()).toEqual([
      ...kept,
      ...next.filter((_, i) => i !== 13).map((r) => Number(r.source.offset)),
    ]);
  });

  it('finds no refusal in records DuckDB takes, so that a failure no record explains is retried', async () => {
    expect(
      (
        await refusedByDuckDB(
          records.filter((r) => !poisoned.includes(r)),
          indexDimensions(dimensions),
        )
      ).size,
    ).toBe(0);
  });
});

describe('the speed layer', () => {
  it('leaves out a record whose raw rows its encoder refuses, and encodes the rest as without it', () => {
    const order = events.find((e) => e.eventType === 'order.created');
    if (order?.eventType !== 'order.created') throw new Error('no order generated');
    const huge = structuredClone(order);
    huge.payload.lines = [
      {
        ...(order.payload.lines[0] as (typeof order.payload.lines)[number]),
        quantity: 2 ** 40,
        unitPriceMinor: 2 ** 40,
      },
    ];
    const all = events.slice(0, 60).map((e, i) => accepted(e, i));
    const bad = accepted(huge, 60);
    const refused: [AcceptedRecord, string][] = [];
    const prepared = prepareInsert(dimensions)([...all.slice(0, 30), bad, ...all.slice(30)], (r, why) =>
      refused.push([r, why]),
    );
    expect(refused).toEqual([[bad, expect.stringMatching(/^ClickHouse raw rows: .*out of range/)]]);
    const clean = prepareInsert(dimensions)(all, () => {
      throw new Error('nothing to refuse');
    });
    expect(Buffer.from(prepared.body as Uint8Array).equals(Buffer.from(clean.body as Uint8Array))).toBe(true);
    expect(prepared.rows).toBe(clean.rows);
    expect(prepared.newest).toBe(clean.newest);
  });
});
