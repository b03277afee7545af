// Gates in worker threads against gates in the calling thread: the same records must give the same
// decisions and byte-identical insert bodies (the exactly-once replay relies on it), refreshed
// dimensions must reach the thread, and a dead thread must fail its gates rather than hang them.
import { afterEach, describe, expect, it } from 'vitest';
import { buildDimensions, CATEGORIES, type Dimensions } from '../contracts/index.ts';
import { generate } from '../generator/index.ts';
import { type GatedRange, type Gates, localGates, threadedGates } from '../pipeline/index.ts';
import type { RawMessage } from '../quality/index.ts';
import { INSERT_PREPARER, type PreparedInsert, prepareInsert } from '../speed-layer/index.ts';
import { asMessages } from './support/messages.ts';

const dimensions = buildDimensions();
const messages: RawMessage[] = [
  ...asMessages(
    generate({
      seed: 11,
      count: 6_000,
      start: '2025-05-01T00:00:00Z',
      rate: 200,
      lateFraction: 0.02,
      duplicateFraction: 0.03,
      badFraction: 0.03,
    }),
  ),
];
// A tombstone and a keyless record: nulls must cross the thread boundary as nulls.
messages.push(
  { ...(messages[10] as RawMessage), offset: String(messages.length), value: null },
  { ...(messages[20] as RawMessage), offset: String(messages.length + 1), key: null },
);

const open: Gates<unknown>[] = [];
function track<P>(gates: Gates<P>): Gates<P> {
  open.push(gates as Gates<unknown>);
  return gates;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((gates) => gates.close()));
});

const threaded = () =>
  track(threadedGates<PreparedInsert>({ options: { dimensions }, preparer: INSERT_PREPARER, threads: 2 }));
const local = () => track(localGates({ dimensions }, prepareInsert));

/** A range without its clock readings, which differ between two runs. */
const comparable = ({ accepted, rejected, report }: GatedRange<PreparedInsert>) => ({
  ...accepted,
  body: accepted.body && Buffer.from(accepted.body),
  rejected: rejected.map(({ rejectedAt: _, ...record }) => record),
  report: { ...report, at: 0 },
});

/** Replays the first 1,000 records as history, then gates the rest in ranges of 1,000. */
async function gateAll(gates: Gates<PreparedInsert>, batch: readonly RawMessage[]) {
  const gate = gates.open(3, 20_000);
  await gate.replay(batch.slice(0, 1_000));
  const ranges = [];
  for (let i = 1_000; i < batch.length; i += 1_000)
    ranges.push(comparable(await gate.run(batch.slice(i, i + 1_000))));
  return ranges;
}

describe('gate threads', () => {
  it('gate and prepare exactly as the calling thread does, dedup window and history included', async () => {
    const [inThread, here] = await Promise.all([gateAll(threaded(), messages), gateAll(local(), messages)]);
    expect(inThread).toEqual(here);
    const rejected = inThread.flatMap((range) => range.rejected);
    expect(rejected.length).toBeGreaterThan(100);
    expect(rejected.every((r) => r.source.value === null || Buffer.isBuffer(r.source.value))).toBe(true);
    expect(rejected.some((r) => r.source.value === null)).toBe(true);
    // Duplicates of records in the replayed history are found: the thread's window was rebuilt.
    expect(inThread.reduce((sum, range) => sum + range.report.duplicates, 0)).toBeGreaterThan(50);
    expect(inThread.reduce((sum, range) => sum + range.report.in, 0)).toBe(messages.length - 1_000);
  });

  it('gate and enrich with refreshed dimensions from the next range on', async () => {
    // Every product moves to another category, and a third of them disappear from the catalog.
    const refreshed: Dimensions = {
      ...dimensions,
      products: dimensions.products
        .filter((_, i) => i % 3 !== 0)
        .map((p) => ({
          ...p,
          category: CATEGORIES[(CATEGORIES.indexOf(p.category) + 1) % CATEGORIES.length] as string,
        })),
    };
    const batch = messages.slice(0, 2_000);
    const gates = threaded();
    const gate = gates.open(0, 20_000);
    const before = comparable(await gate.run(batch.slice(0, 1_000)));
    await gates.setDimensions(refreshed);
    const after = comparable(await gate.run(batch.slice(1_000)));

    const reference = local();
    const referenceGate = reference.open(0, 20_000);
    await referenceGate.replay(batch.slice(0, 1_000));
    await reference.setDimensions(refreshed);
    expect(after).toEqual(comparable(await referenceGate.run(batch.slice(1_000))));
    // Orders of removed products are rejected now, and the bodies carry the new categories.
    expect(after.report.rejected).toBeGreaterThan(before.report.rejected + 50);
    const unrefreshed = local().open(0, 20_000);
    await unrefreshed.replay(batch.slice(0, 1_000));
    expect(after.body).not.toEqual(comparable(await unrefreshed.run(batch.slice(1_000))).body);
  });

  it('fail the gates of a thread that died, and open new gates on a new thread', async () => {
    const gates = track(
      threadedGates<number>({
        options: { dimensions },
        preparer: {
          module: new URL('./support/exiting-preparer.ts', import.meta.url).href,
          name: 'exitOnFirstRange',
        },
        threads: 1,
      }),
    );
    const gate = gates.open(0, 1_000);
    await expect(gate.run(messages.slice(0, 100))).rejects.toThrow('gate thread exited with code 3');
    await expect(gate.run(messages.slice(100, 200))).rejects.toThrow('gate thread exited with code 3');
    const next = gates.open(0, 1_000);
    await expect(next.replay(messages.slice(0, 100))).resolves.toBeUndefined();
  });
});
