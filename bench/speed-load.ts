// Load for bench/speed.ts's latency run, in a process of its own as real producers would be:
// generated traffic paced at a fixed rate into the events topic of the environment's config.
// After each acknowledged chunk it prints `<ms since epoch when the chunk was sent> <good orders so far>`.
// Usage: node --import tsx bench/speed-load.ts <events per second> <seconds>
import { loadConfig } from '../config/index.ts';
import { generate, paced } from '../generator/index.ts';
import { BatchingProducer, createKafka } from '../kafka/index.ts';

const RATE = Number(process.argv[2]);
const SECONDS = Number(process.argv[3]);
const FAULTS = { lateFraction: 0.02, duplicateFraction: 0.01, badFraction: 0.01 };

const cfg = loadConfig();
const producer = new BatchingProducer(createKafka(cfg, 'bench-load'), {
  topic: cfg.eventsTopic,
  batchSize: 1_000,
});
await producer.connect();
let orders = 0;
const records = generate({ seed: 6, start: Date.now(), rate: RATE, ...FAULTS });
for await (const chunk of paced(records, RATE, AbortSignal.timeout(SECONDS * 1000), 500)) {
  const at = Date.now();
  for (const r of chunk) {
    if (r.kind === 'good' && r.event?.eventType === 'order.created') orders++;
    await producer.push(r);
  }
  await producer.flush();
  process.stdout.write(`${at} ${orders}\n`);
}
await producer.disconnect();
