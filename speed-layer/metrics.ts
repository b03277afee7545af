// Prometheus metrics of the speed layer. As with the quality layer's, the registry is the caller's:
// a process exposes one registry for all its layers, and tests get a fresh one.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ConsumerMetrics, EventTimeWatermark } from '../pipeline/index.ts';

export interface SpeedMetrics extends ConsumerMetrics {
  /** A range went into ClickHouse: its records and the rows they became. */
  observeDelivery(records: number, rows: number, insertSeconds: number): void;
}

export function createSpeedMetrics(registry: Registry): SpeedMetrics {
  const registers = [registry];
  const records = new Counter({
    name: 'tidewater_speed_records_total',
    help: 'Kafka records delivered through the gate into ClickHouse (rate = events/s).',
    registers,
  });
  const rows = new Counter({
    name: 'tidewater_speed_rows_inserted_total',
    help: 'Raw rows inserted into ClickHouse (one per event, one per line for orders).',
    registers,
  });
  const insertSeconds = new Histogram({
    name: 'tidewater_speed_insert_seconds',
    help: 'Latency of one deduplicated ClickHouse insert.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const batchRecords = new Histogram({
    name: 'tidewater_speed_batch_records',
    help: "Records per insert: several partitions' ranges with embedded ClickHouse (grouped), one partition's range with a server.",
    buckets: [1, 10, 100, 1_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000],
    registers,
  });
  const lag = new Gauge({
    name: 'tidewater_speed_consumer_lag',
    help: 'Records between the partition high watermark and the committed offset.',
    labelNames: ['partition'],
    registers,
  });
  let watermarks: ReadonlyMap<number, EventTimeWatermark> = new Map();
  const eachWatermark = (gauge: Gauge, value: (w: EventTimeWatermark) => number | undefined) => {
    gauge.reset();
    for (const [partition, watermark] of watermarks) {
      const v = value(watermark);
      if (v !== undefined) gauge.set({ partition }, v);
    }
  };
  new Gauge({
    name: 'tidewater_speed_event_time_watermark_seconds',
    help: 'Newest event time seen per partition (unix seconds).',
    labelNames: ['partition'],
    registers,
    collect() {
      eachWatermark(this, (w) => (w.max === undefined ? undefined : w.max / 1000));
    },
  });
  new Gauge({
    name: 'tidewater_speed_watermark_age_seconds',
    help: 'Wall clock minus the newest event time seen per partition.',
    labelNames: ['partition'],
    registers,
    collect() {
      eachWatermark(this, (w) => (w.max === undefined ? undefined : (Date.now() - w.max) / 1000));
    },
  });

  return {
    observeDelivery(n, r, seconds) {
      records.inc(n);
      rows.inc(r);
      batchRecords.observe(n);
      insertSeconds.observe(seconds);
    },
    observeLag(partition, value) {
      lag.set({ partition }, value);
    },
    trackWatermarks(live) {
      watermarks = live;
    },
  };
}
