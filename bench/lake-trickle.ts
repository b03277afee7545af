// The lake at a trickle: what a reader pays after the platform's lake writer has run at a low rate.
// A second process (`tidewater generate`) offers events to a fresh topic at a fixed rate for ten
// minutes; the lake writer runs here with its default commit policy (TIDEWATER_LAKE_COMMIT_MB /
// _SECONDS); optimize runs as the scheduler would (every `optimize_every_min`) and once at the end.
// Reported: data files per million events before and after compaction, and log files (commits and
// checkpoints) per hour of writing.
// Last line: {"bench":"lake-trickle","files_per_million_events":N,"log_files_per_hour":N,...}
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/index.ts';
import { generate } from '../generator/index.ts';
import { createKafka, ensurePlatformTopics } from '../kafka/index.ts';
import { EVENTS_SCHEMA, LOG_DIR, lakeTableDir, openTable, startLakeWriter } from '../lake/index.ts';
import { fetchPositions } from '../pipeline/index.ts';
import { benchArgs, calibrate, generateToKafka, report, say } from './support.ts';

const args = benchArgs('npm run bench:lake-trickle -- [minutes=10] [events/s=500]');
const MINUTES = args.number(0, 'minutes', 10);
const RATE = args.number(1, 'events/s', 500);
args.done();
const OPTIMIZE_EVERY_MIN = 5;

const id = randomUUID().slice(0, 8);
const dataDir = mkdtempSync(join(tmpdir(), 'tidewater-trickle-'));
const env = {
  ...process.env,
  TIDEWATER_DATA_DIR: dataDir,
  TIDEWATER_EVENTS_TOPIC: `trickle-${id}`,
  TIDEWATER_QUARANTINE_TOPIC: `trickle-${id}.quarantine`,
  TIDEWATER_LAKE_GROUP: `trickle-lake-${id}`,
  LOG_LEVEL: 'error',
};
const cfg = loadConfig(env);
const kafka = createKafka(cfg, 'bench');
await ensurePlatformTopics(kafka, cfg);
const dir = lakeTableDir(cfg.dataDir);
const logFiles = () =>
  readdirSync(join(dir, LOG_DIR)).filter((n) => /^\d{20}\.(json|checkpoint\.parquet)$/.test(n));

const writer = await startLakeWriter(cfg);
let writing = true;
const stopWriter = async () => {
  if (writing) await writer.stop();
  writing = false;
};
const table = await openTable(dir, EVENTS_SCHEMA);
const admin = kafka.admin();
await admin.connect();
try {
  const logAtStart = logFiles().length;
  const started = Date.now();
  const count = Math.round(RATE * MINUTES * 60);
  say(
    `offering ${RATE} events/s for ${MINUTES} min (${count} records), lake commit policy ${cfg.lakeCommitMb} MiB / ${cfg.lakeCommitSeconds} s`,
  );
  const producer = generateToKafka(env, RATE, count);
  const produced = new Promise<void>((resolve, reject) =>
    producer.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`generate exited with ${code}`)),
    ),
  );
  let optimizes = 0;
  const optimizer = setInterval(() => {
    void table.optimize().then((r) => {
      optimizes++;
      say(`optimize: version ${r.version}, ${r.filesRemoved} files -> ${r.filesAdded}`);
    });
  }, OPTIMIZE_EVERY_MIN * 60_000);
  await produced;
  const writingMs = Date.now() - started;
  // The last ranges commit at their age: wait until the lake holds every record.
  const committed = async () =>
    (await fetchPositions(admin, cfg.lakeGroup, cfg.eventsTopic)).reduce((sum, p) => sum + p.committed, 0);
  while ((await committed()) < count) await new Promise((r) => setTimeout(r, 1_000));
  clearInterval(optimizer);

  await stopWriter();
  const latest = await table.refresh();
  const commitsDuringRun = (await table.history()).filter((h) => h.version > 0).length;
  const logDuringRun = logFiles().length - logAtStart;
  const filesBefore = latest.files.size;
  const final = await table.optimize();
  optimizes++;
  const filesAfter = table.current.files.size;
  const accepted = Number(
    [...table.current.files.values()].reduce((sum, f) => sum + JSON.parse(f.stats ?? '{}').numRecords, 0),
  );
  const events = count;
  const hours = writingMs / 3_600_000;
  say(
    `${events} events, ${accepted} rows in ${hours.toFixed(2)} h: ${filesBefore} data files -> ${filesAfter} after the final optimize (${final.filesRemoved} -> ${final.filesAdded}); ${commitsDuringRun} commits, ${logDuringRun} log files`,
  );
  const sample = [...generate({ count: 2_000, rate: RATE, start: Date.now() })].map((r) => r.value);
  report({
    bench: 'lake-trickle',
    offered_events_per_s: RATE,
    minutes: MINUTES,
    events,
    files_per_million_events: Math.round((filesAfter / events) * 1e6 * 10) / 10,
    files_per_million_events_before_compaction: Math.round((filesBefore / events) * 1e6 * 10) / 10,
    log_files_per_hour: Math.round(logDuringRun / hours),
    commits_per_hour: Math.round(commitsDuringRun / hours),
    optimize_runs: optimizes,
    lake_commit_mb: cfg.lakeCommitMb,
    lake_commit_seconds: cfg.lakeCommitSeconds,
    target_files_per_million_events: 20,
    target_commits_per_hour: 120,
    calibration: calibrate(sample),
  });
} finally {
  await stopWriter();
  table.close();
  await admin.deleteTopics({ topics: [cfg.eventsTopic, cfg.quarantineTopic] }).catch(() => undefined);
  await admin.disconnect();
  rmSync(dataDir, { recursive: true, force: true });
}
