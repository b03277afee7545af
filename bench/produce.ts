// Events/s produced into the local broker through the platform's BatchingProducer (idempotent,
// LZ4, batched): median of 3 runs of 1M generated events, each into a fresh 6-partition topic.
// Usage: npm run bench:produce [-- <events per run>]
import { loadConfig } from '../config/index.ts';
import { generate } from '../generator/index.ts';
import { BatchingProducer, createKafka, ensureTopics } from '../kafka/index.ts';
import { Pregenerated } from './pregenerated.ts';
import { median, referenceCalibration, report, say } from './support.ts';

const EVENTS = Number(process.argv[2] ?? 1_000_000);
const RUNS = 3;
const TARGET = 150_000;

const cfg = loadConfig();
const kafka = createKafka(cfg, 'bench-produce');
const admin = kafka.admin();
await admin.connect();

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
  calibration: referenceCalibration(),
});
