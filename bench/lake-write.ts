// Lake write throughput on one core: generated events as the gate accepts them, then appendBatch
// (events into DuckDB -> rows flattened in SQL -> partitioned zstd Parquet -> stats -> Delta commit
// with txn) timed per batch of 50k events into a fresh table, DuckDB limited to one thread.
// Last line: {"bench":"lake-write","write_events_per_s":N,"target":150000,"calibration":{...}}
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDimensions, indexDimensions } from '../contracts/index.ts';
import { generate } from '../generator/index.ts';
import { EVENTS_SCHEMA, openTable, stageAccepted } from '../lake/index.ts';
import type { AcceptedRecord } from '../quality/index.ts';
import { acceptedAt, benchArgs, calibrate, median, report, say } from './support.ts';

const args = benchArgs('npm run bench:lake-write -- [events=300000]');
const EVENTS = args.number(0, 'events', 300_000);
args.done();
const BATCH_EVENTS = 50_000;
const TARGET = 150_000;
const APP_ID = 'bench-lake:events:0';

const dims = indexDimensions(buildDimensions());

function buildBatches(): { records: AcceptedRecord[]; nextOffset: number }[] {
  const batches: { records: AcceptedRecord[]; nextOffset: number }[] = [];
  let records: AcceptedRecord[] = [];
  let offset = 0;
  for (const record of generate({ count: EVENTS, rate: 1000, start: Date.UTC(2025, 0, 1) })) {
    if (!record.event) continue;
    records.push(acceptedAt(record.event, record.value, offset));
    offset++;
    if (offset % BATCH_EVENTS === 0) {
      batches.push({ records, nextOffset: offset });
      records = [];
    }
  }
  if (records.length) batches.push({ records, nextOffset: offset });
  return batches;
}

const batches = buildBatches();
say(`${EVENTS} events in ${batches.length} batches`);
const dir = await mkdtemp(join(tmpdir(), 'bench-lake-'));
const table = await openTable(dir, EVENTS_SCHEMA, { threads: 1 });
const perBatch: number[] = [];
let totalMs = 0;
try {
  for (const batch of batches) {
    const started = performance.now();
    const result = await table.appendBatch(stageAccepted(batch.records, dims), {
      txn: [{ appId: APP_ID, version: batch.nextOffset }],
    });
    const ms = performance.now() - started;
    totalMs += ms;
    const events = batch.nextOffset - perBatch.length * BATCH_EVENTS;
    perBatch.push((events / ms) * 1000);
    say(
      `v${result.version}: ${result.filesAdded} files, ${ms.toFixed(0)} ms, ${Math.round(perBatch.at(-1) ?? 0)} events/s`,
    );
  }
} finally {
  table.close();
  await rm(dir, { recursive: true, force: true });
}
const overall = Math.round((EVENTS / totalMs) * 1000);
say(`overall ${overall} events/s, median batch ${Math.round(median(perBatch))} events/s`);
report({
  bench: 'lake-write',
  write_events_per_s: overall,
  target: TARGET,
  calibration: calibrate((batches[0]?.records ?? []).slice(0, 2_000).map((r) => r.source.value ?? '')),
});
