// A day's batch view built on its previous one: only the hours whose lake data changed since the
// lake version that view read are scanned again, and the view loaded into ClickHouse answers exactly
// as a full recompute of the day does; where ClickHouse holds the view built on, the load reads only
// the scanned hours' files. Real lake (Delta log, Parquet), DuckDB and embedded chDB.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BackfillResult,
  backfill,
  batchTable,
  batchViewsDir,
  listBatchManifests,
  loadBatchView,
  queryBatchView,
  vacuumBatchViews,
} from '../batch-layer/index.ts';
import { createClickHouse, type MetricRow } from '../clickhouse/index.ts';
import { CATALOG } from '../contracts/index.ts';
import { GroundTruth, generate } from '../generator/index.ts';
import { EVENTS_SCHEMA, lakeTableDir, openTable } from '../lake/index.ts';
import { applySpeedLayerDdl } from '../speed-layer/index.ts';
import { ingestBoth, minuteOfTraffic } from './support/late.ts';

const HOUR = 3_600_000;
const DAY_START = Date.parse('2025-03-04T00:00:00Z');
const range = { from: '2025-03-04T00:00:00Z', to: '2025-03-05T00:00:00Z' };
const dataDir = mkdtempSync(join(tmpdir(), 'tidewater-incremental-'));
const lakeDir = lakeTableDir(dataDir);
const viewsDir = batchViewsDir(dataDir);
const truth = new GroundTruth();
let client: ClickHouseClient;

const run = (full = false) =>
  backfill({ client, lakeDir, viewsDir, ...range, allowedLatenessMs: 0, full, threads: 1 });
const incrementalOf = (result: BackfillResult) => result.days[0]?.result.recompute.incremental;
/** Per metric: the batch version the load copied the unscanned hours from, and the files it read. */
const loadOf = (result: BackfillResult) =>
  Object.values(result.days[0]?.result.load.metrics ?? {}).map((m) => [m.keptFrom, m.filesRead]);
/** Every metric's batch view of the day as ClickHouse answers it, final values merged. */
const answers = async (): Promise<MetricRow[][]> =>
  Promise.all(CATALOG.map((metric) => queryBatchView(client, metric, range)));
/** The views as they stand answer what a full recompute of the day then answers. */
const expectAnswersOfFullRecompute = async () => {
  const standing = await answers();
  await run(true);
  expect(standing).toEqual(await answers());
};
const lateMinute = (at: number, seed: number) =>
  ingestBoth(client, dataDir, [...generate({ seed, ...minuteOfTraffic(at, 40) })], truth, `late-${seed}`);

beforeAll(async () => {
  client = createClickHouse({ dataDir });
  await applySpeedLayerDdl(client, CATALOG, { rawTtlDays: 10 * 365, dedupWindow: 1000 });
  // The day's traffic in two commits.
  const day = [...generate({ seed: 11, start: range.from, count: 12_000, rate: 12_000 / 86_400 })];
  await ingestBoth(client, dataDir, day.slice(0, 6_000), truth, 'morning');
  await ingestBoth(client, dataDir, day.slice(6_000), truth, 'evening');
}, 120_000);

afterAll(async () => {
  await client?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('a batch view built on the previous one', () => {
  it('scans only the hours late events changed, compaction none, and answers as a full recompute', async () => {
    const first = await run();
    expect(incrementalOf(first), 'no view to build on yet').toBeUndefined();
    const before = await answers();

    await lateMinute(DAY_START + 3 * HOUR + 10 * 60_000, 21);
    await lateMinute(DAY_START + 17 * HOUR + 40 * 60_000, 22);
    const table = await openTable(lakeDir, EVENTS_SCHEMA);
    try {
      expect((await table.optimize()).filesRemoved).toBeGreaterThan(0);
    } finally {
      table.close();
    }

    const built = await run();
    const firstVersion = first.days[0]?.result.load.version;
    expect(incrementalOf(built)).toEqual({ batchVersion: firstVersion, hoursScanned: 2 });
    // ClickHouse holds the first view: the load reads the two scanned hours' files, keeps the rest.
    expect(loadOf(first).every(([from]) => from === undefined)).toBe(true);
    expect(loadOf(built)).toEqual(CATALOG.map(() => [firstVersion, 2]));
    const incremental = await answers();
    expect(incremental, 'the late events are in').not.toEqual(before);

    const full = await run(true);
    expect(incrementalOf(full)).toBeUndefined();
    for (const [i, metric] of CATALOG.entries())
      expect(incremental[i], metric.name).toEqual((await answers())[i]);
  }, 180_000);

  it('copies every hour when nothing changed since', async () => {
    const before = await answers();
    const result = await run();
    expect(incrementalOf(result)?.hoursScanned).toBe(0);
    expect(loadOf(result).map(([, files]) => files)).toEqual(CATALOG.map(() => 0));
    expect(await answers()).toEqual(before);
  }, 120_000);

  it('reads every file of the view when ClickHouse does not hold the version it was built on', async () => {
    // ClickHouse is given back the day's first view, without the late events of hours 3 and 17.
    const [firstView] = listBatchManifests(viewsDir);
    await loadBatchView(client, { viewsDir, version: firstView?.version });
    await lateMinute(DAY_START + 6 * HOUR, 25);
    const built = await run();
    expect(incrementalOf(built)?.hoursScanned).toBe(1);
    expect(loadOf(built).every(([from, files]) => from === undefined && Number(files) > 1)).toBe(true);
    await expectAnswersOfFullRecompute();
  }, 180_000);

  it('reads every file of the view when the table no longer has the rows it was loaded with', async () => {
    const held = await run(true);
    await client.command({ query: `TRUNCATE TABLE ${batchTable(CATALOG[0] as (typeof CATALOG)[number])}` });
    await lateMinute(DAY_START + 7 * HOUR, 26);
    const built = await run();
    expect(incrementalOf(built)?.batchVersion).toBe(held.days[0]?.result.load.version);
    const [first, ...rest] = loadOf(built);
    expect(first?.[0], 'the emptied table is loaded from files').toBeUndefined();
    expect(rest.every(([from]) => from === held.days[0]?.result.load.version)).toBe(true);
    await expectAnswersOfFullRecompute();
  }, 180_000);

  it('reads every file of the view when late events changed every hour, keeping none from the table', async () => {
    const everyHour = [...generate({ seed: 27, start: range.from, count: 480, rate: 480 / 86_400 })];
    await ingestBoth(client, dataDir, everyHour, truth, 'late-every-hour');
    const built = await run();
    expect(incrementalOf(built)?.hoursScanned).toBe(24);
    // Attaching the day's parts only to mask all of them would be waste.
    expect(loadOf(built).every(([from, files]) => from === undefined && Number(files) > 0)).toBe(true);
    await expectAnswersOfFullRecompute();
  }, 180_000);

  it('scans the whole day when the log no longer says what changed', async () => {
    await lateMinute(DAY_START + 9 * HOUR, 23);
    const table = await openTable(lakeDir, EVENTS_SCHEMA);
    const latest = (await table.refresh()).version;
    table.close();
    await lateMinute(DAY_START + 12 * HOUR, 24);
    // A commit after the view's lake version goes, as the log's retention takes commits; a checkpoint
    // of the newest version keeps the table readable.
    const reopened = await openTable(lakeDir, EVENTS_SCHEMA);
    await reopened.checkpoint();
    reopened.close();
    const commit = join(lakeDir, '_delta_log', `${String(latest).padStart(20, '0')}.json`);
    renameSync(commit, `${commit}.gone`);
    try {
      const result = await run();
      expect(incrementalOf(result)).toBeUndefined();
    } finally {
      renameSync(`${commit}.gone`, commit);
    }
    await expectAnswersOfFullRecompute();
  }, 180_000);
});

describe('a load that died before it dropped its staging table', () => {
  const stagingTables = async () =>
    (
      await (
        await client.query({
          query: 'SELECT name FROM system.tables WHERE database = currentDatabase()',
          format: 'JSONEachRow',
        })
      ).json<{ name: string }>()
    )
      .map((t) => t.name)
      .filter((name) => name.includes('_staging_'))
      .sort();

  it('leaves a table that later loads drop once it is older than a load runs, and no other', async () => {
    const table = batchTable(CATALOG[0] as (typeof CATALOG)[number]);
    // As loads leave them when killed after attaching the day they build on: two hours ago, an older
    // release's (no time in the name), and one just now. A table of that shape outside the
    // catalog's is not the loads' to drop.
    const old = [`${table}_staging_900001_${Date.now() - 2 * HOUR}`, `${table}_staging_900002`];
    const young = `${table}_staging_900003_${Date.now()}`;
    for (const name of [...old, young]) {
      await client.command({ query: `CREATE TABLE ${name} AS ${table}` });
      await client.command({ query: `ALTER TABLE ${name} ATTACH PARTITION '2025-03-04' FROM ${table}` });
    }
    const foreign = `not_a_view_staging_7_${Date.now() - 2 * HOUR}`;
    await client.command({ query: `CREATE TABLE ${foreign} (x UInt8) ENGINE = MergeTree ORDER BY x` });
    const before = await answers();

    const first = await loadBatchView(client, { viewsDir });
    expect(first.staleStagingDropped.sort()).toEqual(old);
    expect(await stagingTables()).toEqual([foreign, young]);

    const second = await loadBatchView(client, { viewsDir, staleStagingMs: 0 });
    expect(second.staleStagingDropped).toEqual([young]);
    expect(await stagingTables()).toEqual([foreign]);
    // The view's own parts, which the dead staging tables shared as hard links, are untouched.
    expect(await answers()).toEqual(before);
    await client.command({ query: `DROP TABLE ${foreign}` });
  }, 120_000);
});

describe('batch view retention', () => {
  const claims = () =>
    readdirSync(join(viewsDir, '_versions'))
      .map(Number)
      .sort((a, b) => a - b);
  const filesOf = (version: number) =>
    readdirSync(viewsDir).filter((dir) => existsSync(join(viewsDir, dir, `batch_version=${version}`)));

  it('deletes versions overshadowed longer than the retention and dead claims, never the authoritative one', async () => {
    const versions = listBatchManifests(viewsDir).map((m) => m.version);
    const newest = versions.at(-1) as number;
    expect(versions.length).toBeGreaterThan(3);
    expect(filesOf(versions[0] as number).length).toBeGreaterThan(0);
    // A recompute that died after writing files and before its manifest, two hours ago.
    const dead = newest + 1;
    mkdirSync(join(viewsDir, '_versions', String(dead)));
    mkdirSync(join(viewsDir, 'orders_v1', `batch_version=${dead}`), { recursive: true });
    writeFileSync(join(viewsDir, 'orders_v1', `batch_version=${dead}`, 'part.parquet'), '');
    const twoHoursAgo = new Date(Date.now() - 2 * HOUR);
    utimesSync(join(viewsDir, '_versions', String(dead)), twoHoursAgo, twoHoursAgo);
    const before = await answers();

    expect(vacuumBatchViews(viewsDir, { retentionHours: 3 }), 'all within the retention').toEqual([]);
    expect(vacuumBatchViews(viewsDir, { retentionHours: 1 }), 'only the dead claim is older').toEqual([dead]);
    expect(filesOf(dead)).toEqual([]);

    const later = Date.now() + 2 * HOUR;
    expect(vacuumBatchViews(viewsDir, { retentionHours: 1, now: later })).toEqual(versions.slice(0, -1));
    expect(claims()).toEqual([newest]);
    for (const version of versions.slice(0, -1)) expect(filesOf(version), `version ${version}`).toEqual([]);
    expect(filesOf(newest).length).toBeGreaterThan(0);
    expect(vacuumBatchViews(viewsDir, { retentionHours: 0, now: later }), 'the day needs it').toEqual([]);

    // The next recompute builds on what is left and answers the same.
    expect(incrementalOf(await run())?.batchVersion).toBe(newest);
    expect(await answers()).toEqual(before);
  }, 120_000);
});

describe('a batch view whose rows cannot be read', () => {
  it('names the version, the metric and the way out', async () => {
    const latest = listBatchManifests(viewsDir).at(-1);
    const orders = latest?.metrics.find((m) => m.name === 'orders');
    const file = orders?.files[0];
    expect(file).toBeDefined();
    writeFileSync(join(viewsDir, file as string), 'not parquet');
    await expect(run()).rejects.toThrow(
      new RegExp(
        `build on batch version ${latest?.version}'s rows of orders: [\\s\\S]*a full backfill of the day`,
      ),
    );
    const repaired = await run(true);
    expect(incrementalOf(repaired)).toBeUndefined();
    expect(repaired.days[0]?.result.recompute.view?.rowCounts.orders).toBe(latest?.rowCounts.orders);
  }, 180_000);
});
