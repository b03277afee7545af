// The lake as other engines see it: a table the platform's lake writer wrote from Kafka (then
// compacted), read by Delta Kernel for Java (Maven Central) and by ClickHouse's Delta Lake reader
// (chDB's deltaLakeLocal). Every column is read by them and compared with what DuckDB reads from
// the same snapshot; row counts equal the accepted events; time travel by version and by
// timestamp lands on the same versions; Kernel starts from the newest checkpoint, and finds the
// writer's txn offsets.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { openDuck } from '../duckdb/index.ts';
import { createKafka } from '../kafka/index.ts';
import {
  type DeltaType,
  EVENTS_SCHEMA,
  type LakeTable,
  lakeTableDir,
  listLog,
  openTable,
  type Snapshot,
  startLakeWriter,
  txnAppId,
} from '../lake/index.ts';
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
};

/** Rows and, per column, what the Kernel reader reports, as DuckDB reads the snapshot. */
async function ourColumns(table: LakeTable, snapshot: Snapshot) {
  const columns = [...EVENTS_SCHEMA.columns, ...EVENTS_SCHEMA.partitionColumns];
  const duck = await openDuck();
  try {
    const parts = columns.map((c) => {
      const m = measure[c.type](`"${c.name}"`);
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
          type: c.type,
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
    const truth = await produceGenerated(
      kafka,
      cfg.eventsTopic,
      imperfectTraffic(31, '2025-05-01T00:55:00Z', 8_000),
    );
    // Commits every 50 ms: enough versions for checkpoints while the backlog is read.
    const writer = await startLakeWriter({ ...cfg, lakeCommitSeconds: 0.05 }, { groupId, maxRecords: 400 });
    try {
      await waitForCatchUp(kafka, groupId, cfg.eventsTopic, 90_000);
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
      expect(now?.columns.find((c) => c.name === 'event')?.nonNull).toBe(truth.totals.good);
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
    } finally {
      table.close();
    }
  }, 300_000);
});
