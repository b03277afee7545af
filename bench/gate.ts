// Quality-gate throughput on one core: a realistic generator mix (2% late, 1% duplicates, 1% bad)
// built up front as RawMessages, then gate.run timed over batches, median of 3 runs per engine.
// Last line: {"bench":"gate","events_per_s":N,"zod_events_per_s":N,"target":250000,"calibration":{...}},
// the calibration being JSON.parse of the same records' bytes on the same core, timed between the
// gate's runs: a machine's speed moves both alike, so their ratio compares runs on busy machines.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { buildDimensions } from '../contracts/index.ts';
import { generate } from '../generator/index.ts';
import {
  type ContractEngine,
  createGate,
  DEFAULT_DEDUP_WINDOW,
  DedupWindow,
  type RawMessage,
} from '../quality/index.ts';
import { benchArgs } from './support.ts';

const args = benchArgs('npm run bench:gate -- [records=1000000]');
const RECORDS = args.number(0, 'records', 1_000_000);
args.done();
const BATCH = 5_000;
const RUNS = 3;
const PARTITIONS = 12;
const TARGET = 250_000;
const START = Date.UTC(2025, 0, 1);
const RATE = 1000;

// The gate keeps a batch's parsed events alive until it returns them, so with V8's default young
// generation (16 MB semi-spaces) scavenges copy most of each batch and promote it to die in old
// space. Every process that runs the gate is started with --max-semi-space-size=64 (package.json
// scripts, bin/tidewater.js), and so is this bench.
console.log(`node flags: ${process.execArgv.join(' ')}`);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Kafka's default partitioner hashes the key; any stable hash keeps a user's duplicates together. */
function partitionOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % PARTITIONS;
}

function buildBatches(): RawMessage[][] {
  const pending: RawMessage[][] = Array.from({ length: PARTITIONS }, () => []);
  const batches: RawMessage[][] = [];
  const offsets = new Array<number>(PARTITIONS).fill(0);
  let i = 0;
  const records = generate({
    count: RECORDS,
    start: START,
    rate: RATE,
    lateFraction: 0.02,
    maxLatenessMinutes: 30,
    duplicateFraction: 0.01,
    badFraction: 0.01,
  });
  for (const record of records) {
    const partition = partitionOf(record.key);
    const queue = pending[partition] as RawMessage[];
    queue.push({
      topic: 'events',
      partition,
      offset: String(offsets[partition]),
      key: Buffer.from(record.key),
      value: record.value,
      timestamp: START + Math.floor((i++ * 1000) / RATE),
    });
    offsets[partition] = (offsets[partition] ?? 0) + 1;
    if (queue.length === BATCH) {
      batches.push(queue.slice());
      queue.length = 0;
    }
  }
  for (const queue of pending) if (queue.length > 0) batches.push(queue);
  return batches;
}

const dimensions = buildDimensions();
const end = START + Math.ceil((RECORDS * 1000) / RATE) + 60_000;

interface Rate {
  wall: number;
  /** Per second of process CPU time: the figure a contended machine distorts least. */
  cpu: number;
}

function timeRun(engine: ContractEngine, batches: readonly RawMessage[][]): Rate {
  const gate = createGate({ dimensions, engine, now: () => end });
  gc();
  let events = 0;
  let outcomes = 0;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (const batch of batches) {
    const result = gate.run(batch);
    events += batch.length;
    outcomes += result.accepted.length + result.rejected.length + result.duplicates;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const { user, system } = process.cpuUsage(cpu);
  if (outcomes !== events) throw new Error(`gate lost records: ${events} in, ${outcomes} out`);
  return { wall: events / seconds, cpu: events / ((user + system) / 1e6) };
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
}

/** The reference workload: each record's bytes to a string and through JSON.parse, nothing else. */
function timeCalibration(batches: readonly RawMessage[][]): Rate {
  gc();
  let events = 0;
  let objects = 0;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (const batch of batches) {
    for (const { value } of batch) {
      try {
        if (value !== null && typeof JSON.parse(value.toString()) === 'object') objects++;
      } catch {
        // The mix holds invalid JSON on purpose, as the gate's input does.
      }
    }
    events += batch.length;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const { user, system } = process.cpuUsage(cpu);
  if (objects === 0) throw new Error('the calibration parsed nothing');
  return { wall: events / seconds, cpu: events / ((user + system) / 1e6) };
}

const perSecond = (n: number) => `${Math.round(n).toLocaleString('en')} events/s`;
const WORKLOADS = ['compiled', 'zod', 'calibration'] as const;
type Workload = (typeof WORKLOADS)[number];

/** Workloads alternate run by run, so a change in machine load shifts all alike. */
function bench(batches: readonly RawMessage[][]): Record<Workload, number> {
  const rates: Record<Workload, Rate[]> = { compiled: [], zod: [], calibration: [] };
  for (let run = 1; run <= RUNS; run++) {
    for (const workload of WORKLOADS) {
      const rate = workload === 'calibration' ? timeCalibration(batches) : timeRun(workload, batches);
      rates[workload].push(rate);
      console.log(`${workload} run ${run}: ${perSecond(rate.wall)} (${perSecond(rate.cpu)} of CPU time)`);
    }
  }
  const medians = { compiled: 0, zod: 0, calibration: 0 };
  for (const workload of WORKLOADS) {
    medians[workload] = Math.round(median(rates[workload].map((rate) => rate.wall)));
    const cpu = median(rates[workload].map((rate) => rate.cpu));
    console.log(`${workload} median: ${perSecond(medians[workload])} (${perSecond(cpu)} of CPU time)`);
  }
  return medians;
}

/** Heap and array-buffer bytes per remembered id in a full window. */
function dedupBytesPerId(ids: number): number {
  const used = () => {
    gc();
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    return heapUsed + arrayBuffers;
  };
  const before = used();
  const window = new DedupWindow(ids);
  for (let i = 0; i < ids; i++) window.add(crypto.randomUUID());
  return Math.round((used() - before) / window.size);
}

// Measured first, while nothing else is being collected.
console.log(
  `dedup window: ${dedupBytesPerId(DEFAULT_DEDUP_WINDOW)} bytes per remembered eventId (full window of ${DEFAULT_DEDUP_WINDOW})`,
);
console.log(`building ${RECORDS.toLocaleString('en')} records in batches of ${BATCH}...`);
const batches = buildBatches();
console.log(`built ${batches.length} batches over ${PARTITIONS} partitions`);
// Untimed warm-up, so that run 1 does not also measure the JIT compiling the validators.
for (const engine of ['compiled', 'zod'] as const) timeRun(engine, batches.slice(0, 20));
timeCalibration(batches.slice(0, 20));
const { compiled, zod, calibration } = bench(batches);
console.log(
  JSON.stringify({
    bench: 'gate',
    events_per_s: compiled,
    zod_events_per_s: zod,
    target: TARGET,
    calibration: {
      workload: 'Buffer to string and JSON.parse of the same records, one core',
      events_per_s: calibration,
      gate_to_calibration: Math.round((compiled / calibration) * 1000) / 1000,
    },
  }),
);
