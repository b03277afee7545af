// Load for bench/late.ts, in a process of its own as real producers would be: generated traffic
// paced at a fixed rate into the events topic of the environment's config, of which a fraction is
// stamped 1 to 48 hours before its sending (uniformly), as a device that was offline would send it.
// Records are generated as they are sent (a pregenerated 5-minute run would not fit in memory).
// After each acknowledged chunk with late events it prints `<ms since epoch> <hour ms>:<n>,...`:
// the late events of the chunk by the hour their event time falls in.
// Usage: node --import tsx bench/late-load.ts <events per second> <seconds> <late fraction>
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../config/index.ts';
import { loadPlatformDimensions } from '../contracts/index.ts';
import { generate } from '../generator/index.ts';
import { BatchingProducer, createKafka } from '../kafka/index.ts';

const RATE = Number(process.argv[2]);
const SECONDS = Number(process.argv[3]);
const LATE_FRACTION = Number(process.argv[4]);
const HOUR = 3_600_000;

const cfg = loadConfig();
const producer = new BatchingProducer(createKafka(cfg, 'bench-late-load'), {
  topic: cfg.eventsTopic,
  batchSize: 10_000,
  producers: 1,
});
await producer.connect();
const records = generate({
  seed: 22,
  start: Date.now(),
  rate: RATE,
  dimensions: await loadPlatformDimensions(cfg.dataDir),
});
// A seeded draw of which events are late and by how much, apart from the generator's own streams.
let state = 22;
const random = () => {
  state = (state * 1103515245 + 12345) % 2 ** 31;
  return state / 2 ** 31;
};

const total = Math.ceil(RATE * SECONDS);
const TICK_MS = 10;
const started = performance.now();
let sent = 0;
while (sent < total) {
  await sleep(TICK_MS - ((performance.now() - started) % TICK_MS));
  const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * RATE));
  if (due === sent) continue;
  const late = new Map<number, number>();
  for (; sent < due; sent++) {
    const { value: record } = records.next();
    if (!record?.event) throw new Error('the generator stopped');
    if (random() < LATE_FRACTION) {
      const eventTime = Date.now() - HOUR - Math.floor(random() * 47 * HOUR);
      const event = { ...record.event, eventTime: new Date(eventTime).toISOString() };
      const hour = Math.floor(eventTime / HOUR) * HOUR;
      late.set(hour, (late.get(hour) ?? 0) + 1);
      await producer.push({ key: record.key, value: Buffer.from(JSON.stringify(event)) });
    } else await producer.push({ key: record.key, value: record.value });
  }
  await producer.flush();
  if (late.size > 0)
    process.stdout.write(`${Date.now()} ${[...late].map(([hour, n]) => `${hour}:${n}`).join(',')}\n`);
}
await producer.disconnect();
