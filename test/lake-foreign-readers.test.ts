// The lake as other engines see it: a table the platform's lake writer wrote from Kafka (then
// compacted), read by Delta Kernel for Java (Maven Central) and by ClickHouse's Delta Lake reader
// (chDB's deltaLakeLocal). Every column is read by them and compared with what DuckDB reads from
// the same snapshot; row counts equal the accepted events; time travel by version and by
// timestamp lands on the same versions; Kernel starts from the newest checkpoint and finds the
// writer's txn offsets; both still read the latest version once the log before that checkpoint has
// expired (vacuum's log retention). The quarantine table, with its binary and array columns, is read by Kernel
// the same way.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { openDuck } from '../duckdb/index.ts';
import { generate } from '../generator/index.ts';
import { createKafka } from '../kafka/index.ts';
import {
  type ColumnType,
  type DeltaType,
  EVENTS_SCHEMA,
  type LakeTable,
  lakeTableDir,
  listLog,
  openQuarantineTable,
  openTable,
  QUARANTINE_SCHEMA,
  QuarantineLakeWriter,
  quarantineTableDir,
  type Snapshot,
  startLakeWriter,
  type TableSchema,
  txnAppId,
} from '../lake/index.ts';
import { QuarantinePublisher, type RejectedRecord, type RuleFailure } from '../quality/index.ts';
import { type KernelColumn, kernelRead } from './support/delta-kernel.ts';
import { imperfectTraffic, isolation } from './support/isolation.ts';
import { produceGenerated, waitForCatchUp } from './support/speed.ts';

const isolated = isolation('lake-foreign');

/** DuckDB's spelling of the reader's per-column aggregate (see DeltaKernelRead.java). */
const measure: Record<DeltaType, (c: string) => string> = {
  string: (c) => `strlen(${c})`,
  long: (c) => c,
  integer: (c) => c,
  boolean: (c) => `CAST(${c} AS INTEGER)`,
  timestamp: (c) => `epoch_us(${c})`,
  date: (c) => `(${c} - DATE '1970-01-01')`,
  binary: (c) => `octet_length(${c})`,
};

/** A column's measure: an array's is its length, whatever its elements; no column is a struct. */
function measureOf(type: ColumnType): (c: string) => string {
  if (typeof type === 'string') return measure[type];
  if (type.type === 'array') return (c) => `len(${c})`;
  throw new Error('the Kernel reader measures no struct column');
}

/** A column type as Kernel's DataType.toString() spells it, for the types it may meet here. */
function kernelTypeName(type: ColumnType): string {
  if (typeof type === 'string') return type;
  if (type.type === 'array') return `array[${kernelTypeName(type.elementType)}]`;
  return `struct(${type.fields
    .map(
      (f) => `StructField(name=${f.name},type=${kernelTypeName(f.type)},nullable=${f.nullable},metadata={})`,
    )
    .join(', ')})`;
}

/** Rows and, per column, what the Kernel reader reports, as DuckDB reads the snapshot. */
async function ourColumns(table: LakeTable, snapshot: Snapshot, schema: TableSchema = EVENTS_SCHEMA) {
  const columns = [...schema.columns, ...schema.partitionColumns];
  const duck = await openDuck();
  try {
    const parts = columns.map((c) => {
      const m = measureOf(c.type)(`"${c.name}"`);
      const sum = c.type === 'timestamp' ? '0' : `coalesce(sum(${m}), 0)`;
      return `[count("${c.name}"), ${sum}, min(${m}), max(${m})]::BIGINT[]`;
    });
    const reader = await duck.connection.runAndReadAll(
      `SELECT count(*)::BIGINT, ${parts.join(', ')} FROM ${table.readSql(snapshot)}`,
    );
    const [rows, ...values] = reader.getRowsJS()[0] as [bigint, ...(bigint | null)[][]];
    return {
      rows: Number(rows),
      columns: columns.map((c, i): KernelColumn => {
        const [nonNull, sum, min, max] = values[i] as (bigint | null)[];
        return {
          name: c.name,
          type: kernelTypeName(c.type),
          nonNull: Number(nonNull),
          sum: Number(sum),
          min: min === null ? null : Number(min),
          max: max === null ? null : Number(max),
        };
      }),
    };
  } finally {
    duck.close();
  }
}

/** Not valid UTF-8 anywhere: a lone continuation byte, a truncated sequence, 0xFF. */
const INVALID_UTF8 = Buffer.from([0x80, 0xe2, 0x82, 0xff, 0x00]);

/** What the JSON reveals about the event, as the gate reports it. */
function peek(value: Buffer | null): Pick<RejectedRecord, 'eventId' | 'eventType' | 'eventTime'> {
  try {
    const json = JSON.parse(value?.toString() ?? '') as Record<string, unknown>;
    const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
    return { eventId: text(json.eventId), eventType: text(json.eventType), eventTime: text(json.eventTime) };
  } catch {
    return {};
  }
}

/**
 * Rejections of generated bad records, 30 s apart from 23:00 UTC so that they span two days: one
 * to three failures (a rule twice in some, so fewer rule ids than failures), undecodable bytes in
 * some originals, an empty original and none at all, no key for every seventh.
 */
function rejections(count: number): RejectedRecord[] {
  const start = Date.UTC(2025, 0, 1, 23, 0);
  return [...generate({ badFraction: 1, count, seed: 23 })].map((g, i): RejectedRecord => {
    const value =
      i === 5
        ? null
        : i === 6
          ? Buffer.alloc(0)
          : i % 3 === 0
            ? Buffer.concat([g.value, INVALID_UTF8])
            : g.value;
    const failures: RuleFailure[] = [
      { ruleId: 'contract', severity: 'quarantine', message: `${g.kind} #${i}` },
    ];
    if (i % 4 === 1)
      failures.push({ ruleId: 'catalog.product', severity: 'quarantine', message: 'unknown product' });
    if (i % 5 === 2) failures.push({ ruleId: 'contract', severity: 'warn', message: 'and again' });
    const source = {
      topic: 'events',
      partition: i % 4,
      offset: String(1000 + i),
      key: i % 7 === 0 ? null : Buffer.from(g.key),
      value,
      timestamp: start + i * 30_000,
    };
    return { source, ...peek(value), failures, rejectedAt: start + i * 30_000 + 5 };
  });
}

/**
 * chDB reads only below its working directory (its user_files_path): the query runs in a child
 * process started in the table's parent directory.
 */
async function chdb(tableDir: string, sql: (table: string) => string): Promise<string> {
  const module = pathToFileURL(createRequire(import.meta.url).resolve('chdb')).href;
  const table = `deltaLakeLocal('${tableDir}')`;
  const script = `const { query } = await import(${JSON.stringify(module)});
    process.stdout.write(query(${JSON.stringify(sql(table))}, 'TSV'));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    cwd: dirname(tableDir),
  });
  return stdout.trim();
}

describe('the lake read by engines tidewater did not write', () => {
  it('Delta Kernel and ClickHouse read every column of every version as DuckDB does', async () => {
    const { cfg, groupId } = await isolated('kernel');
    const kafka = createKafka(cfg, 'test');
    // Commits every 50 ms, and the traffic in waves, each committed before the next is produced:
    // enough versions for a checkpoint (every 10th) however fast the machine reads a backlog (a
    // fast one read 8,000 events at once in fewer than 10 commits).
    const writer = await startLakeWriter({ ...cfg, lakeCommitSeconds: 0.05 }, { groupId, maxRecords: 400 });
    let good = 0;
    try {
      for (let wave = 0; wave < 12; wave++) {
        const start = new Date(Date.parse('2025-05-01T00:55:00Z') + wave * 4_000).toISOString();
        const truth = await produceGenerated(kafka, cfg.eventsTopic, imperfectTraffic(31 + wave, start, 700));
        good += truth.totals.good;
        await waitForCatchUp(kafka, groupId, cfg.eventsTopic, 90_000);
      }
    } finally {
      await writer.stop();
    }
    const dir = lakeTableDir(cfg.dataDir);
    const table = await openTable(dir, EVENTS_SCHEMA);
    try {
      // Compaction too: Kernel must honour its removes (dataChange false) and tombstones.
      expect((await table.optimize()).filesRemoved).toBeGreaterThan(1);
      const latest = await table.refresh();
      const history = await table.history();
      const { checkpoints } = await listLog(dir);
      const checkpoint = checkpoints.filter((v) => v <= latest.version).at(-1);
      expect(checkpoint, 'the writer made enough commits for a checkpoint').toBeDefined();
      const middle = history[Math.floor(history.length / 2)] as (typeof history)[number];
      const between =
        middle.timestamp +
        Math.floor(((history[middle.version + 1]?.timestamp ?? middle.timestamp + 2) - middle.timestamp) / 2);
      const appIds = Array.from({ length: cfg.eventsPartitions }, (_, p) =>
        txnAppId(groupId, cfg.eventsTopic, p),
      );

      const [now, v1, byVersion, atCommit, inBetween] = await kernelRead(
        dir,
        ['latest', 'v:1', `v:${middle.version}`, `t:${middle.timestamp}`, `t:${between}`],
        appIds,
      );

      // The latest version: every accepted event once (its JSON is on its first row only).
      const ours = await ourColumns(table, latest);
      expect(now).toMatchObject({ version: latest.version, rows: ours.rows, files: latest.files.size });
      expect(now?.columns.find((c) => c.name === 'event')?.nonNull).toBe(good);
      expect(now?.columns).toEqual(ours.columns);
      // Started from the newest checkpoint, replaying only the commits after it.
      expect(now).toMatchObject({
        checkpointVersion: checkpoint,
        commitsReplayed: latest.version - (checkpoint as number),
      });
      for (const appId of appIds) expect(now?.txn[appId]).toBe(latest.txns.get(appId)?.version ?? null);

      // Time travel: by version, and by timestamp (at a commit's time and between two commits).
      for (const [read, version] of [
        [v1, 1],
        [byVersion, middle.version],
        [atCommit, middle.version],
        [inBetween, middle.version],
      ] as const) {
        const snapshot = await table.snapshot({ version });
        expect(read).toMatchObject({ version, rows: (await ourColumns(table, snapshot)).rows });
        expect(read?.columns).toEqual((await ourColumns(table, snapshot)).columns);
      }
      expect(v1?.checkpointVersion).toBeNull();

      // ClickHouse's reader: the same counts, sums and times, now and at version 1.
      const summary = (t: string) =>
        `SELECT count(), sum(total_minor), count(event), toUnixTimestamp64Micro(min(event_time)), toUnixTimestamp64Micro(max(event_time)), uniqExact(date, hour) FROM ${t}`;
      const expectedSummary = (columns: KernelColumn[], rows: number) => {
        const of = (name: string) => columns.find((c) => c.name === name) as KernelColumn;
        return [
          rows,
          of('total_minor').sum,
          of('event').nonNull,
          of('event_time').min,
          of('event_time').max,
        ].join('\t');
      };
      expect((await chdb(dir, summary)).split('\t').slice(0, 5).join('\t')).toBe(
        expectedSummary(now?.columns ?? [], now?.rows ?? 0),
      );
      expect(
        (await chdb(dir, (t) => `${summary(t)} SETTINGS delta_lake_snapshot_version = 1`))
          .split('\t')
          .slice(0, 5)
          .join('\t'),
      ).toBe(expectedSummary(v1?.columns ?? [], v1?.rows ?? 0));

      // The log's retention (vacuum): the commits and checkpoints before the newest checkpoint are
      // deleted; both readers still find the latest version whole, from that checkpoint.
      const checkpointed = history.find((h) => h.version === checkpoint)?.timestamp as number;
      const expired = await table.vacuum({
        retentionHours: 168,
        logRetentionHours: 1,
        now: checkpointed + 3_600_000,
      });
      expect(expired.logFilesDeleted).toBeGreaterThanOrEqual(checkpoint as number);
      expect((await listLog(dir)).versions[0]).toBe(checkpoint);
      expect(await kernelRead(dir, ['latest'], appIds)).toEqual([now]);
      expect((await chdb(dir, summary)).split('\t').slice(0, 5).join('\t')).toBe(
        expectedSummary(now?.columns ?? [], now?.rows ?? 0),
      );
    } finally {
      table.close();
    }
  }, 300_000);

  it('Delta Kernel reads the quarantine table as DuckDB does', async () => {
    const { cfg, groupId } = await isolated('quarantine');
    const kafka = createKafka(cfg, 'test');
    const topic = cfg.quarantineTopic;
    const root = quarantineTableDir(cfg.dataDir);
    const records = rejections(300);
    // Messages that are no quarantine message: kept as rows of their own (MALFORMED_QUARANTINE_RULE).
    const foreign = [
      { key: null, value: Buffer.from('not json') },
      { key: Buffer.from([0xff, 0x00]), value: Buffer.from(JSON.stringify({ sourceTopic: 'x' })) },
    ];
    const catchUp = () =>
      new QuarantineLakeWriter({
        kafka,
        topic,
        root,
        groupId,
        commitPolicy: { maxBytes: 1 << 30, maxAgeMs: 50 },
        log: () => {},
      }).runUntilCaughtUp();

    // In batches, the writer catching up between some: several versions, each with its txns.
    const publisher = new QuarantinePublisher(kafka, { topic, batchSize: 40 });
    const producer = kafka.producer();
    await publisher.connect();
    await producer.connect();
    try {
      await publisher.publish(records.slice(0, 100));
      await catchUp();
      await publisher.publish(records.slice(100, 180));
      await producer.send({ topic, messages: foreign });
      await catchUp();
      await publisher.publish(records.slice(180, 240));
      await publisher.publish(records.slice(240));
      await catchUp();
    } finally {
      await publisher.disconnect();
      await producer.disconnect();
    }
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());

    const table = await openQuarantineTable(root, () => {});
    try {
      expect((await table.optimize()).filesRemoved).toBeGreaterThan(1);
      await table.checkpoint();
      const latest = await table.refresh();
      const appIds = offsets.map((o) => `${topic}:${o.partition}`);
      const [now, v1] = await kernelRead(root, ['latest', 'v:1'], appIds);

      const published = records.length + foreign.length;
      const ours = await ourColumns(table, latest, QUARANTINE_SCHEMA);
      expect(ours.rows).toBe(published);
      expect(now).toMatchObject({
        version: latest.version,
        rows: published,
        files: latest.files.size,
        checkpointVersion: latest.version,
        commitsReplayed: 0,
      });
      expect(now?.columns).toEqual(ours.columns);
      // Kernel's figures are the records' own, not only DuckDB's.
      const of = (name: string) => now?.columns.find((c) => c.name === name);
      const bytes = (bs: (Buffer | null)[]) => bs.reduce((n, b) => n + (b?.length ?? 0), 0);
      const keys = [...records.map((r) => r.source.key), ...foreign.map((f) => f.key)];
      const originals = [...records.map((r) => r.source.value), ...foreign.map((f) => f.value)];
      expect(of('source_key')).toMatchObject({
        nonNull: keys.filter((k) => k !== null).length,
        sum: bytes(keys),
      });
      expect(of('original')).toMatchObject({
        nonNull: originals.filter((v) => v !== null).length,
        sum: bytes(originals),
        min: 0,
      });
      expect(of('rule_ids')).toMatchObject({
        nonNull: published,
        sum: records.reduce((n, r) => n + new Set(r.failures.map((f) => f.ruleId)).size, foreign.length),
        min: 1,
        max: 2,
      });
      expect(of('failures')).toMatchObject({
        nonNull: published,
        sum: records.reduce((n, r) => n + r.failures.length, foreign.length),
        min: 1,
        max: 3,
      });
      // Where the table holds each quarantine partition to: the end of the topic's partition.
      for (const { partition, high } of offsets) {
        const appId = `${topic}:${partition}`;
        expect(latest.txns.get(appId)?.version).toBe(Number(high));
        expect(now?.txn[appId]).toBe(latest.txns.get(appId)?.version);
      }

      // The first version, as Kernel reads it replaying the log from version 0.
      const first = await table.snapshot({ version: 1 });
      const oursAt1 = await ourColumns(table, first, QUARANTINE_SCHEMA);
      expect(v1).toMatchObject({
        version: 1,
        rows: oursAt1.rows,
        checkpointVersion: null,
        commitsReplayed: 2,
      });
      expect(oursAt1.rows).toBeGreaterThan(0);
      expect(v1?.columns).toEqual(oursAt1.columns);
    } finally {
      table.close();
    }
  }, 300_000);
});
