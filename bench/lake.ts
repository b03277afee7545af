// The lake and batch layer end to end: (1) lake write events/s — generated events as the gate
// accepts them, committed with appendBatch in 100k-event commits (events into DuckDB, rows
// flattened in SQL, partitioned zstd Parquet, stats, Delta commit); (2) backfill recompute
// events/s — the catalog's `orders` and `sales_by_category` recomputed by the batch layer's
// generated SQL over the snapshot's files, next to (3) the same two aggregations written by hand
// in DuckDB over the same files. Both are timed 5 times, interleaved; rates are medians, the
// ratio is the median of the per-run ratios. Last line:
// {"bench":"lake","write_events_per_s":N,"backfill_events_per_s":N,"backfill_vs_duckdb":R,"calibration":{...}}
// calibration: JSON.parse of the bench's events on one core, measured in the same run, and the load average.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recomputeMetrics } from '../batch-layer/index.ts';
import { buildDimensions, getMetric, indexDimensions } from '../contracts/index.ts';
import { openDuck, readParquet } from '../duckdb/index.ts';
import { generate } from '../generator/index.ts';
import { EVENTS_SCHEMA, openTable, stageAccepted } from '../lake/index.ts';
import type { AcceptedRecord } from '../quality/index.ts';
import { acceptedAt, benchArgs, calibrate, median, report, say } from './support.ts';

const args = benchArgs('npm run bench:lake -- [events=20000000]');
const EVENTS = args.number(0, 'events', 20_000_000);
args.done();
const COMMIT_EVENTS = 100_000;
const RUNS = 5;
const START = Date.UTC(2025, 0, 1);
const RATE = 1_000;
const APP_ID = 'bench-lake:events:0';

const dims = indexDimensions(buildDimensions());
const dir = await mkdtemp(join(tmpdir(), 'bench-lake-'));
const table = await openTable(dir, EVENTS_SCHEMA);
try {
  // (1) write, generating one commit's events at a time so memory stays flat.
  let writeMs = 0;
  let offset = 0;
  let records: AcceptedRecord[] = [];
  const commit = async () => {
    const started = performance.now();
    await table.appendBatch(stageAccepted(records, dims), { txn: [{ appId: APP_ID, version: offset }] });
    writeMs += performance.now() - started;
    records = [];
    if ((offset / COMMIT_EVENTS) % 10 === 0 || offset === EVENTS) {
      say(
        `wrote ${offset.toLocaleString('en')} events (${Math.round((offset / writeMs) * 1000).toLocaleString('en')}/s)`,
      );
    }
  };
  for (const record of generate({ count: EVENTS, rate: RATE, start: START })) {
    if (!record.event) continue;
    records.push(acceptedAt(record.event, record.value, offset));
    offset++;
    if (offset % COMMIT_EVENTS === 0) await commit();
  }
  if (records.length > 0) await commit();
  const writeRate = Math.round((offset / writeMs) * 1000);

  // (2) and (3) over the same snapshot.
  const files = await table.filesAt();
  const from = new Date(START - 3_600_000);
  // Whole hours around the traffic (late events reach back before START).
  const to = new Date(START + (Math.ceil(EVENTS / RATE / 3_600) + 1) * 3_600_000);
  const catalog = [getMetric('orders'), getMetric('sales_by_category')];
  const source = readParquet(files);
  const range = `event_time >= TIMESTAMP '${from.toISOString().slice(0, 19)}' AND event_time < TIMESTAMP '${to.toISOString().slice(0, 19)}'`;
  const byHand = [
    `CREATE OR REPLACE TEMP TABLE hand_orders AS
       SELECT date_trunc('minute', event_time) AS minute, region, channel,
              count(*) AS orders, sum(total_minor) AS revenue_minor, sum(order_units) AS units
       FROM ${source} WHERE event_type = 'order.created' AND line_index = 0 AND ${range}
       GROUP BY ALL`,
    `CREATE OR REPLACE TEMP TABLE hand_sales AS
       SELECT date_trunc('minute', event_time) AS minute, region, category, channel,
              sum(quantity) AS units, sum(line_revenue_minor) AS revenue_minor,
              count(*) AS lines, count(DISTINCT order_id) AS orders
       FROM ${source} WHERE event_type = 'order.created' AND ${range}
       GROUP BY ALL`,
  ];
  const recomputeMs: number[] = [];
  const handMs: number[] = [];
  const recompute = async () => {
    const started = performance.now();
    const result = await recomputeMetrics({ files, from, to, catalog, collectRows: false });
    recomputeMs.push(performance.now() - started);
    return result.metrics.orders?.rowCount;
  };
  const byHandRun = async () => {
    // Like the recompute, a fresh in-memory DuckDB: no metadata cached from the run before.
    const started = performance.now();
    const duck = await openDuck();
    try {
      for (const sql of byHand) await duck.connection.run(sql);
      handMs.push(performance.now() - started);
      const counted = await duck.connection.runAndReadAll('SELECT count(*) AS n FROM hand_orders');
      return counted.getRowObjects()[0]?.n;
    } finally {
      duck.close();
    }
  };
  for (let run = 1; run <= RUNS; run++) {
    // Alternating which goes first spreads the machine's drift over both.
    let recomputed: number | undefined;
    let byHandRows: unknown;
    if (run % 2) {
      recomputed = await recompute();
      byHandRows = await byHandRun();
    } else {
      byHandRows = await byHandRun();
      recomputed = await recompute();
    }
    say(
      `run ${run}: recompute ${recomputeMs.at(-1)?.toFixed(0)} ms (${recomputed} orders rows), ` +
        `by hand ${handMs.at(-1)?.toFixed(0)} ms (${byHandRows} orders rows)`,
    );
  }
  const backfillRate = Math.round((offset / median(recomputeMs)) * 1000);
  const handRate = Math.round((offset / median(handMs)) * 1000);
  say(
    `write ${writeRate.toLocaleString('en')} events/s; backfill ${backfillRate.toLocaleString('en')} events/s; by hand ${handRate.toLocaleString('en')} events/s`,
  );
  report({
    bench: 'lake',
    write_events_per_s: writeRate,
    backfill_events_per_s: backfillRate,
    // Per run, the recompute's time against the hand-written queries' next to it; the median of those.
    backfill_vs_duckdb:
      Math.round(median(handMs.map((ms, i) => ms / (recomputeMs[i] as number))) * 100) / 100,
    duckdb_by_hand_events_per_s: handRate,
    events: offset,
    files: files.length,
    target_write_events_per_s: 150_000,
    target_backfill_vs_duckdb: 0.8,
    calibration: calibrate([...generate({ count: 2_000, rate: RATE, start: START })].map((r) => r.value)),
  });
} finally {
  table.close();
  await rm(dir, { recursive: true, force: true });
}
