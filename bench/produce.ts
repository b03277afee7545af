// Events/s produced into the local broker through the platform's BatchingProducer (idempotent,
// LZ4, batched): median of 3 runs of 1M generated events, each into a fresh 6-partition topic.
// And what the soak's generator costs: events made live and paced at 50,000 events/s for 20 s, as
// `tidewater generate --rate 50000` feeds bench:soak beside the platform, in cores of this process.
import { loadConfig } from '../config/index.ts';
import { type GeneratedRecord, generate, paced, produceToKafka } from '../generator/index.ts';
import { BatchingProducer, createKafka, ensureTopics } from '../kafka/index.ts';
import { Pregenerated } from './pregenerated.ts';
import { benchArgs, median, referenceCalibration, report, say } from './support.ts';

const args = benchArgs('npm run bench:produce -- [events per run=1000000]');
const EVENTS = args.number(0, 'events per run', 1_000_000);
args.done();
const RUNS = 3;
const TARGET = 150_000;

const cfg = loadConfig();
const kafka = createKafka(cfg, 'bench-produce');
const admin = kafka.admin();
await admin.connect();

// First, in a fresh process as `tidewater generate` is: after the throughput runs below (a
// gigabyte of pregenerated records, other record shapes) the same loop costs ~40% more.
const PACED_RATE = 50_000;
/** Seconds before the paced run is measured (connecting, JIT warm-up), and measured. */
const PACED_WARMUP_S = 10;
const PACED_SECONDS = 20;
const pacedTopic = `bench-produce-paced-${Date.now()}`;
const stop = new AbortController();
let made = 0;
const mark = () => ({ cpu: process.cpuUsage(), at: performance.now(), made });
let from = mark();
let to = from;
const timers = [
  setTimeout(() => {
    from = mark();
  }, PACED_WARMUP_S * 1000),
  setTimeout(
    () => {
      to = mark();
      stop.abort();
    },
    (PACED_WARMUP_S + PACED_SECONDS) * 1000,
  ),
];
async function* counted(chunks: AsyncIterable<GeneratedRecord[]>) {
  for await (const chunk of chunks) {
    made += chunk.length;
    yield chunk;
  }
}
await produceToKafka(
  counted(paced(generate({ seed: 12, rate: PACED_RATE }), PACED_RATE, stop.signal)),
  { ...cfg, eventsTopic: pacedTopic },
  PACED_RATE,
);
for (const timer of timers) clearTimeout(timer);
const pacedCpu = to.cpu.user + to.cpu.system - (from.cpu.user + from.cpu.system);
const pacedMade = to.made - from.made;
const pacedSeconds = (to.at - from.at) / 1000;
const pacedCores = pacedCpu / 1e6 / pacedSeconds;
await admin.deleteTopics({ topics: [pacedTopic] });
say(
  `paced at ${PACED_RATE.toLocaleString('en')}/s (${PACED_SECONDS} s after ${PACED_WARMUP_S} s): ${Math.round(pacedMade / pacedSeconds).toLocaleString('en')} events/s made and produced for ${pacedCores.toFixed(2)} cores (${(pacedCpu / pacedMade).toFixed(1)} µs an event)`,
);

const genStart = performance.now();
const records = new Pregenerated(
  generate({ seed: 11, count: EVENTS, rate: 50_000, lateFraction: 0.02, duplicateFraction: 0.01 }),
  EVENTS,
);
const bytes = records.bytes;
const generatorRate = EVENTS / ((performance.now() - genStart) / 1000);
say(
  `generator: ${Math.round(generatorRate).toLocaleString('en')} events/s, ${(bytes / EVENTS).toFixed(0)} bytes/event`,
);

const rates: number[] = [];
for (let run = 1; run <= RUNS; run++) {
  const topic = `bench-produce-${Date.now()}`;
  await ensureTopics(admin, [{ topic, numPartitions: 6, replicationFactor: 1 }]);
  const producer = new BatchingProducer(kafka, { topic });
  await producer.connect();
  const started = performance.now();
  for (let i = 0; i < EVENTS; i++) {
    await producer.push(records.record(i));
  }
  await producer.flush();
  const seconds = (performance.now() - started) / 1000;
  await producer.disconnect();
  await admin.deleteTopics({ topics: [topic] });
  const rate = EVENTS / seconds;
  rates.push(rate);
  say(
    `run ${run}: ${Math.round(rate).toLocaleString('en')} events/s, ${(bytes / seconds / 2 ** 20).toFixed(1)} MiB/s`,
  );
}

await admin.disconnect();

const eventsPerS = Math.round(median(rates));
say(`median ${eventsPerS.toLocaleString('en')} events/s (target ${TARGET.toLocaleString('en')})`);
report({
  bench: 'produce',
  events_per_s: eventsPerS,
  target: TARGET,
  runs: rates.map(Math.round),
  events_per_run: EVENTS,
  bytes_per_event: Math.round(bytes / EVENTS),
  generator_events_per_s: Math.round(generatorRate),
  paced_events_per_s: Math.round(pacedMade / pacedSeconds),
  paced_cores: Number(pacedCores.toFixed(3)),
  calibration: referenceCalibration(),
});
