// One verdict per event (quality/verdict-board.ts): a gate that takes the verdicts another gate
// posted must hand its sink exactly what it would have made of the records itself, keep its own
// dedup window whole for the ranges it gates later, and follow the poster's verdict where its own
// would now differ (a dimension refreshed in between).
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDimensions, type Dimensions, spellsExactly } from '../contracts/index.ts';
import { generate } from '../generator/index.ts';
import { type GatedRange, localGates, type PartitionGate } from '../pipeline/index.ts';
import {
  type AcceptedRecord,
  createGate,
  type RawMessage,
  registerVerdictBoardMetrics,
  VerdictBoard,
} from '../quality/index.ts';

const START = Date.UTC(2025, 0, 1);
const DIMENSIONS = buildDimensions();
// Generated late events are up to 10 minutes late: 5 allowed makes some of them late.
const OPTIONS = { dimensions: DIMENSIONS, allowedLatenessMinutes: 5 };
const WINDOW = 20_000;
const asIs = () => (accepted: readonly AcceptedRecord[]) => accepted;

/** Generated traffic with every fault as one partition's log; offsets step by 3 (control records). */
function traffic(count: number): RawMessage[] {
  const records = [
    ...generate({ count, rate: 1000, lateFraction: 0.05, duplicateFraction: 0.05, badFraction: 0.05 }),
  ];
  return records.map((record, i) => {
    let value = record.value;
    // Every 97th good record repeats a key: its bytes no longer spell the event exactly.
    if (record.kind === 'good' && i % 97 === 0)
      value = Buffer.from(
        `${value.toString().slice(0, -1)},"userId":${JSON.stringify(record.event?.userId)}}`,
      );
    return {
      topic: 'events',
      partition: 0,
      offset: String(1_000 + 3 * i),
      key: Buffer.from(record.key),
      value,
      timestamp: START + i,
    };
  });
}

const chunks = <T>(items: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/** What a sink and the quarantine read of a gated range. */
function view({ accepted, rejected, refused, report }: GatedRange<readonly AcceptedRecord[]>) {
  const { at: _at, ...counts } = report;
  return {
    accepted: accepted.map((r) => {
      const bytes = r.source.value as Buffer;
      return {
        source: r.source,
        event: r.event,
        eventTimeMs: r.eventTimeMs,
        late: r.late,
        warnings: r.warnings,
        canonical: r.canonical ?? (spellsExactly(bytes, r.event) ? null : JSON.stringify(r.event)),
      };
    }),
    rejected: rejected.map(({ rejectedAt: _when, ...rest }) => rest),
    refused,
    counts,
  };
}

function gates(board: VerdictBoard) {
  return {
    poster: localGates(OPTIONS, asIs, { board, role: 'post' }),
    taker: localGates(OPTIONS, asIs, { board, role: 'take' }),
    reference: localGates(OPTIONS, asIs),
  };
}

async function runAll(gate: PartitionGate<readonly AcceptedRecord[]>, ranges: RawMessage[][]) {
  const out = [];
  for (const range of ranges) out.push(await gate.run(range));
  return out;
}

/**
 * Posts `log` in ranges of `postSize`, runs `between`, then takes it in ranges of `takeSize`: what
 * the taker makes of each range must be what its own gate makes of it. Returns the latter.
 */
async function postThenTake(
  board: VerdictBoard,
  log: RawMessage[],
  sizes: { post: number; take: number },
  between: () => void | Promise<void> = () => {},
) {
  const { poster, taker, reference } = gates(board);
  await runAll(poster.open(0, WINDOW), chunks(log, sizes.post));
  await between();
  const ranges = chunks(log, sizes.take);
  const taken = await runAll(taker.open(0, WINDOW), ranges);
  const own = await runAll(reference.open(0, WINDOW), ranges);
  expect(taken.map(view)).toEqual(own.map(view));
  return own;
}

describe('a verdict board', () => {
  it('gives a taker exactly the ranges its own gate would make, in other range sizes', async () => {
    const log = traffic(6_000);
    const board = new VerdictBoard({ waitMs: 0 });
    const own = await postThenTake(board, log, { post: 700, take: 1_000 });

    expect(board.stats).toMatchObject({ posted: log.length, taken: log.length, missed: 0 });
    // The traffic exercised every outcome the board carries.
    const all = own.map(view);
    expect(all.some((r) => r.counts.duplicates > 0)).toBe(true);
    expect(all.some((r) => r.counts.late > 0)).toBe(true);
    expect(all.some((r) => r.rejected.length > 0)).toBe(true);
    expect(all.some((r) => r.accepted.some((a) => a.canonical !== null))).toBe(true);
    // Taken ranges hold little beyond the bytes: the board used them up.
    expect(board.size).toBe(0);
  });

  it('decides once: a taker whose dimensions changed since still follows the verdict', async () => {
    const log = traffic(2_000);
    const board = new VerdictBoard({ waitMs: 0 });
    const { poster, taker, reference } = gates(board);
    const [posted] = await runAll(poster.open(0, WINDOW), [log]);
    // A product of an accepted event leaves the catalog before the taker reads the range.
    const cart = posted?.accepted.find((r) => r.event.eventType === 'cart.add')?.event;
    if (cart?.eventType !== 'cart.add') throw new Error('the traffic holds no accepted cart.add');
    const used = cart.payload.productId;
    const fewer: Dimensions = {
      ...DIMENSIONS,
      products: DIMENSIONS.products.filter((p) => p.productId !== used),
    };
    await taker.setDimensions(fewer);
    await reference.setDimensions(fewer);

    const [followed] = await runAll(taker.open(0, WINDOW), [log]);
    const [rejudged] = await runAll(reference.open(0, WINDOW), [log]);
    const accepting = (range: GatedRange<readonly AcceptedRecord[]> | undefined) =>
      range?.accepted.filter((r) => JSON.stringify(r.event).includes(used)).length ?? 0;
    expect(accepting(followed)).toBeGreaterThan(0);
    expect(accepting(rejudged)).toBe(0);
  });

  it("keeps the taker's own window whole: a copy of a taken record, in a range it gates itself, is a duplicate", async () => {
    const log = traffic(1_000);
    const board = new VerdictBoard({ waitMs: 0 });
    const { poster, taker } = gates(board);
    await runAll(poster.open(0, WINDOW), [log]);
    const gate = taker.open(0, WINDOW);
    const [first] = await runAll(gate, [log]);
    const original = first?.accepted[0]?.source as RawMessage;
    const last = Number((log[log.length - 1] as RawMessage).offset);
    const copy = { ...original, offset: String(last + 1) };

    const [again] = await runAll(gate, [[copy]]);
    expect(board.stats.missed).toBe(1);
    expect(again?.accepted).toEqual([]);
    expect(again?.report.duplicates).toBe(1);
  });

  it('holds a bounded number of records: a taker behind them gates itself, then takes again', async () => {
    const log = traffic(3_000);
    const board = new VerdictBoard({ capacity: 1_000, waitMs: 0 });
    await postThenTake(board, log, { post: 500, take: 500 }, () =>
      expect(board.size).toBeLessThanOrEqual(1_000),
    );
    expect(board.stats).toMatchObject({ missed: 2_000, taken: 1_000 });
  });

  it('never fails the poster: a result that leaves a record out is not kept, and the taker gates the range', async () => {
    const log = traffic(200);
    const board = new VerdictBoard({ waitMs: 0 });
    const gate = createGate(OPTIONS);
    const result = gate.run(log);
    board.post(log, { ...result, accepted: result.accepted.slice(1) });
    expect(board.stats).toMatchObject({ posted: 0, skipped: 200 });
    expect(board.size).toBe(0);
    expect(await board.take(log)).toBeUndefined();
  });

  it('lets a taker wait for a poster that has not reached its range, and stops posting for one far behind', async () => {
    const log = traffic(3_000);
    const board = new VerdictBoard({ capacity: 1_000, waitMs: 60_000 });
    const { poster, taker } = gates(board);
    const posting = poster.open(0, WINDOW);
    const taking = taker.open(0, WINDOW);
    const [early, late] = chunks(log, 100);
    // Asked first, answered once the poster has gated the range: no wait runs out here.
    const waited = taking.run(early as RawMessage[]);
    await posting.run(early as RawMessage[]);
    expect((await waited).accepted.length).toBeGreaterThan(0);
    expect(board.stats).toMatchObject({ taken: 100, missed: 0 });

    await posting.run(late as RawMessage[]);
    // The taker asked up to offset 1,297: a range from offset 7,000 is more than the board's 1,000
    // records ahead of it, so the board does not keep it.
    await posting.run(log.slice(2_000));
    expect(board.stats.skipped).toBe(1_000);
    expect(board.size).toBe(100);
  });

  describe('with a spill', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tidewater-verdicts-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('keeps on disk what memory cannot hold, and gives a taker every verdict back as posted', async () => {
      const log = traffic(6_000);
      // Hostile records early in the log, so their rejections are spilled: a lone surrogate and a
      // __proto__ key (refused, their reasons quote them), and an identity with a quote, NUL, a
      // newline and characters beyond ASCII, which the spill's JSON must carry as they are.
      const hostile = [
        String.raw`{"eventId":"\ud800","eventType":"page.view"}`,
        '{"__proto__":{"polluted":1},"eventType":"page.view"}',
        String.raw`{"eventId":"x\"\u0000\n é 🎉","eventType":"</script>"}`,
      ];
      hostile.forEach((json, i) => {
        const at = log[10 + i] as RawMessage;
        log[10 + i] = { ...at, value: Buffer.from(json) };
      });
      const board = new VerdictBoard({ capacity: 1_000, waitMs: 0, spill: { dir, maxBytes: 10_000_000 } });
      const registry = new Registry();
      registerVerdictBoardMetrics(registry, board);
      const gauge = async () =>
        Number(/^tidewater_verdict_board_spilled_bytes (\d+)$/m.exec(await registry.metrics())?.[1]);
      const own = await postThenTake(board, log, { post: 700, take: 1_000 }, async () => {
        expect(board.size).toBeLessThanOrEqual(1_000);
        expect(board.stats.spilled).toBeGreaterThanOrEqual(5_000);
        expect(board.spilledBytes).toBeGreaterThanOrEqual(5_000 * 34);
        // The files are unlinked (`du` does not see them): the gauge says what the spill holds.
        expect(await gauge()).toBe(board.spilledBytes);
        // The files are unlinked as they are opened: nothing in the directory, nothing left by a crash.
        expect(readdirSync(dir)).toEqual([]);
      });
      const [firstRange] = own;
      expect(firstRange?.rejected.map((r) => r.eventId)).toContain('x"\u0000\n é 🎉');
      expect(board.stats).toMatchObject({ taken: log.length, missed: 0 });
      expect(board.spilledBytes).toBe(0);
      expect(await gauge()).toBe(0);
      board.close();
    });

    it('holds a bounded number of bytes there: the oldest go first, and a taker behind them gates itself', async () => {
      const log = traffic(4_000);
      const board = new VerdictBoard({ capacity: 500, waitMs: 0, spill: { dir, maxBytes: 50_000 } });
      await postThenTake(board, log, { post: 250, take: 500 }, () => {
        expect(board.spilledBytes).toBeLessThanOrEqual(50_000);
        expect(board.spilledBytes).toBeGreaterThan(0);
      });
      const { taken: fromBoard, missed } = board.stats;
      expect(missed).toBeGreaterThan(0);
      expect(fromBoard).toBeGreaterThan(500);
      expect(fromBoard + missed).toBe(log.length);
      board.close();
    });

    it('never fails the poster: a spill that cannot write lets the verdicts go, and the taker gates', async () => {
      const log = traffic(3_000);
      const notADir = join(dir, 'a-file');
      writeFileSync(notADir, '');
      const board = new VerdictBoard({
        capacity: 1_000,
        waitMs: 0,
        spill: { dir: notADir, maxBytes: 10_000_000 },
      });
      await postThenTake(board, log, { post: 500, take: 500 }, () => {
        expect(board.stats).toMatchObject({ posted: log.length, spilled: 0 });
        expect(board.size).toBeLessThanOrEqual(1_000);
      });
      expect(board.stats).toMatchObject({ missed: 2_000, taken: 1_000 });
      board.close();
    });
  });
});
