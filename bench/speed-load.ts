// Load for bench/speed.ts's latency run, in a process of its own as real producers would be:
// generated traffic paced at a fixed rate into the events topic of the environment's config. The
// records are generated before the clock starts (their event times begin then), so that on this
// shared 2-core machine the generator's JSON building does not take CPU from the layer under test.
// After each acknowledged chunk it prints `<ms since epoch when the chunk was sent> <good orders so far>`.
// Usage: node --import tsx bench/speed-load.ts <events per second> <seconds>

import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../config/index.ts';
import { generate } from '../generator/index.ts';
import { BatchingProducer, createKafka } from '../kafka/index.ts';
import { Pregenerated } from './pregenerated.ts';

const RATE = Number(process.argv[2]);
const SECONDS = Number(process.argv[3]);
const FAULTS = { lateFraction: 0.02, duplicateFraction: 0.01, badFraction: 0.01 };

const cfg = loadConfig();
const producer = new BatchingProducer(createKafka(cfg, 'bench-load'), {
  topic: cfg.eventsTopic,
  batchSize: 10_000,
  producers: 1,
});
await producer.connect();
const records = new Pregenerated(
  generate({ seed: 6, start: Date.now(), rate: RATE, ...FAULTS }),
  Math.ceil(RATE * SECONDS),
  (r) => r.kind === 'good' && r.event?.eventType === 'order.created',
);
// Every tick sends what is due as one request: finer ticks only add per-request overhead.
const TICK_MS = 10;
const started = performance.now();
let sent = 0;
while (sent < records.count) {
  await sleep(TICK_MS - ((performance.now() - started) % TICK_MS));
  const due = Math.min(records.count, Math.floor(((performance.now() - started) / 1000) * RATE));
  if (due === sent) continue;
  const at = Date.now();
  for (; sent < due; sent++) await producer.push(records.record(sent));
  await producer.flush();
  process.stdout.write(`${at} ${records.markedBefore(sent)}\n`);
}
await producer.disconnect();
