// Rejections/s the quarantine table writer takes from its topic into the Delta table. A flood of
// bad records (every event refused, at the soak's 50,000 events/s) must not leave quarantine behind.
// Each run produces N quarantine messages (generated bad records, as the gate refuses them) into a
// fresh 3-partition topic first, untimed; then a writer with the lake's commit size and a 1 s age
// reads them from the start, timed until the table's txns reach the topic's end. Median of 3 runs.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/index.ts';
import { generate } from '../generator/index.ts';
import { createKafka, ensureTopics } from '../kafka/index.ts';
import { openQuarantineTable, QuarantineLakeWriter, quarantineTableDir } from '../lake/index.ts';
import { encodeQuarantine, QuarantinePublisher, type RejectedRecord } from '../quality/index.ts';
import { benchArgs, calibrate, median, report, say } from './support.ts';

const args = benchArgs('npm run bench:quarantine -- [messages per run=300000]');
const MESSAGES = args.number(0, 'messages per run', 300_000);
args.done();
const RUNS = 3;
const TARGET = 50_000;
const PARTITIONS = 3;

const cfg = loadConfig();
const kafka = createKafka(cfg, 'bench-quarantine');
const admin = kafka.admin();
await admin.connect();

const started = Date.now();
const rejected: RejectedRecord[] = [...generate({ seed: 7, count: MESSAGES, badFraction: 1 })].map(
  (g, i) => ({
    source: {
      topic: 'events',
      partition: i % 6,
      offset: String(i),
      key: Buffer.from(g.key),
      value: g.value,
      timestamp: started + i,
    },
    eventType: g.kind,
    failures: [{ ruleId: 'contract', severity: 'quarantine', message: `generated ${g.kind}` }],
    rejectedAt: started + i,
  }),
);
const messages = rejected.map((r) => encodeQuarantine(r).value);
say(
  `${MESSAGES.toLocaleString('en')} quarantine messages, ${Math.round(messages.reduce((n, m) => n + m.length, 0) / MESSAGES)} bytes each`,
);

const rates: number[] = [];
const versions: number[] = [];
for (let run = 1; run <= RUNS; run++) {
  const topic = `bench-quarantine-${randomUUID()}`;
  const groupId = `bench-quarantine-${randomUUID()}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'tidewater-bench-quarantine-'));
  const root = quarantineTableDir(dataDir);
  await ensureTopics(admin, [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }]);
  const publisher = new QuarantinePublisher(kafka, { topic });
  await publisher.connect();
  await publisher.publish(rejected);
  await publisher.disconnect();
  const ends = await admin.fetchTopicOffsets(topic);

  const writer = new QuarantineLakeWriter({
    kafka,
    topic,
    root,
    groupId,
    commitPolicy: { maxBytes: cfg.lakeCommitMb * 1024 * 1024, maxAgeMs: 1_000 },
    log: say,
  });
  const table = await openQuarantineTable(root);
  const begun = performance.now();
  await writer.start();
  for (;;) {
    const held = await Promise.all(ends.map((e) => table.txnVersion(`${topic}:${e.partition}`)));
    if (ends.every((e, i) => (held[i] ?? 0) >= Number(e.high))) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const seconds = (performance.now() - begun) / 1000;
  await writer.stop();
  versions.push(table.current.version);
  table.close();
  await admin.deleteTopics({ topics: [topic] });
  await admin.deleteGroups([groupId]).catch(() => undefined);
  await rm(dataDir, { recursive: true, force: true });
  rates.push(MESSAGES / seconds);
  say(
    `run ${run}: ${Math.round(MESSAGES / seconds).toLocaleString('en')} rejections/s, ${versions.at(-1)} versions`,
  );
}
await admin.disconnect();

const perS = Math.round(median(rates));
say(`median ${perS.toLocaleString('en')} rejections/s (target ${TARGET.toLocaleString('en')})`);
report({
  bench: 'quarantine',
  rejections_per_s: perS,
  target: TARGET,
  runs: rates.map(Math.round),
  messages_per_run: MESSAGES,
  versions_per_run: versions,
  calibration: calibrate(messages),
});
