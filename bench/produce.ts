// Events/s produced into the local broker through the platform's BatchingProducer (idempotent,
// LZ4, batched): median of 3 runs of 1M generated events, each into a fresh 6-partition topic.
// Usage: npm run bench:produce [-- <events per run>]
import { loadConfig } from '../config/index.ts';
import { generate } from '../generator/index.ts';
import { BatchingProducer, createKafka, ensureTopics } from '../kafka/index.ts';
import { median, report, say } from './support.ts';

const EVENTS = Number(process.argv[2] ?? 1_000_000);
const RUNS = 3;
const TARGET = 150_000;

const cfg = loadConfig();
const kafka = createKafka(cfg, 'bench-produce');
const admin = kafka.admin();
await admin.connect();

// Generated once, untimed, into one contiguous buffer: a million retained record objects would make
// the collector, not the producer, the bottleneck. The generator's own rate is printed beside.
const genStart = performance.now();
const values = Buffer.allocUnsafe(EVENTS * 1024);
const ends = new Uint32Array(EVENTS);
const keys: string[] = new Array(EVENTS);
let bytes = 0;
let n = 0;
for (const r of generate({
  seed: 11,
  count: EVENTS,
  rate: 50_000,
  lateFraction: 0.02,
  duplicateFraction: 0.01,
})) {
  bytes += r.value.copy(values, bytes);
  ends[n] = bytes;
  keys[n++] = r.key;
}
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
    await producer.push({
      key: keys[i] as string,
      value: values.subarray(i === 0 ? 0 : ends[i - 1], ends[i]),
    });
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
});
