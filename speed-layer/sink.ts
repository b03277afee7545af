// Where gated offset ranges go: their prepared inserts (prepare.ts) into ClickHouse under the
// deduplication token. The insert is durable when a delivery resolves, so the caller may commit.
// Late events are inserted too: the views count every minute they get, and the batch layer stays
// authoritative for late data. The gate's rejections are published by the lake writer, which
// rejects the same records; the speed layer publishes only what its own preparer refused (at
// least once: a range redone after a crash publishes them again).
//
// The embedded engine takes grouped inserts (pipeline/delivery.ts): one block for the ranges of
// several partitions, staged as a file beside the engine's data before it is announced. That file
// is also what the insert reads, so staging costs no extra write. A server gets one insert per
// partition range: speed processes on several hosts may share it, and none could read another's
// staged block.
import { access, open, unlink } from 'node:fs/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import { insertEncoded, insertFile, insertStagingDir, stagedGroupFile } from '../clickhouse/index.ts';
import type { GatedRange, GroupSink, Sink } from '../pipeline/index.ts';
import type { QualityMetrics, RejectedRecord } from '../quality/index.ts';
import type { SpeedCommitPublisher } from './commits.ts';
import { RAW_TABLE } from './ddl.ts';
import type { SpeedMetrics } from './metrics.ts';
import type { PreparedInsert } from './prepare.ts';

/** Quarantine of what the preparer refused: resolves once the records are acknowledged. */
export interface QuarantineSink {
  publish(records: readonly RejectedRecord[]): Promise<void>;
}

export interface SinkOptions {
  clickhouse: ClickHouseClient;
  quarantine: QuarantineSink;
  metrics?: SpeedMetrics;
  qualityMetrics?: QualityMetrics;
  /** Told the event times of each committed insert (live push, query cache); never awaited. */
  commits?: Pick<SpeedCommitPublisher, 'notify'>;
}

type Ranges = readonly GatedRange<PreparedInsert>[];

/** A group sink for the embedded engine, a per-range sink for a server. */
export function createSink(options: SinkOptions): Sink<PreparedInsert> | GroupSink<PreparedInsert> {
  const staging = insertStagingDir(options.clickhouse);
  return staging === undefined ? rangeSink(options) : groupSink(options, staging);
}

/** Everything after the insert, for the ranges it held: quarantine, metrics, the commit notice. */
async function afterInsert(
  { quarantine, metrics, qualityMetrics, commits }: SinkOptions,
  ranges: Ranges,
  insertSeconds: number,
): Promise<void> {
  const refused = ranges.flatMap((r) => r.refused);
  if (refused.length > 0) await quarantine.publish(refused);
  metrics?.observeDelivery(
    sum(ranges, (r) => r.report.in),
    sum(ranges, (r) => r.accepted.rows),
    insertSeconds,
  );
  for (const { report } of ranges) qualityMetrics?.observeBatch(report);
  const oldest = Math.min(...ranges.map((r) => r.accepted.oldest ?? Number.POSITIVE_INFINITY));
  const newest = newestOf(ranges);
  if (Number.isFinite(oldest) && newest !== undefined) commits?.notify(oldest, newest);
}

async function timed(insert: Promise<void>): Promise<number> {
  const started = performance.now();
  await insert;
  return (performance.now() - started) / 1000;
}

function rangeSink(options: SinkOptions): Sink<PreparedInsert> {
  return async (token, range) => {
    const seconds = await timed(insertEncoded(options.clickhouse, RAW_TABLE, range.accepted.body, token));
    await afterInsert(options, [range], seconds);
    return range.accepted.newest;
  };
}

/**
 * Writes the bodies one after the other, as they are: joined into one Buffer first, they were a
 * copy of every row the speed layer inserts (3.5% of the all-in-one platform's event loop in
 * bench:soak).
 */
async function writeBlock(file: string, bodies: readonly Uint8Array[]): Promise<void> {
  const handle = await open(file, 'w');
  try {
    const { bytesWritten } = await handle.writev(bodies as Uint8Array[]);
    const size = bodies.reduce((sum, b) => sum + b.byteLength, 0);
    if (bytesWritten !== size) throw new Error(`${file}: ${bytesWritten} of ${size} bytes written`);
  } finally {
    await handle.close();
  }
}

function groupSink(options: SinkOptions, staging: string): GroupSink<PreparedInsert> {
  const { clickhouse } = options;
  return {
    async stage(token, members) {
      const file = stagedGroupFile(staging, token);
      // Row bodies concatenate: the block is the members' rows in the members' order.
      await writeBlock(
        file,
        members.flatMap((m) => m.gated.flatMap((g) => (g.accepted.body ? [g.accepted.body] : []))),
      );
      return {
        async deliver() {
          const seconds = await timed(insertFile(clickhouse, RAW_TABLE, file, token));
          await afterInsert(
            options,
            members.flatMap((m) => m.gated),
            seconds,
          );
          return members.map((m) => newestOf(m.gated));
        },
        release: () => unlink(file).catch(() => undefined),
      };
    },
    async redeliver(token, member) {
      const file = stagedGroupFile(staging, token);
      await access(file).catch(() => {
        throw new Error(
          `the grouped insert ${token} was announced but its staged block ${file} is gone: it cannot be replayed exactly`,
        );
      });
      await afterInsert(options, member.gated, await timed(insertFile(clickhouse, RAW_TABLE, file, token)));
      return newestOf(member.gated);
    },
  };
}

/** The newest event time accepted in `ranges`, if any. */
function newestOf(ranges: Ranges): number | undefined {
  const newest = Math.max(...ranges.map((r) => r.accepted.newest ?? Number.NEGATIVE_INFINITY));
  return Number.isFinite(newest) ? newest : undefined;
}

function sum<T>(items: readonly T[], of: (item: T) => number): number {
  return items.reduce((total, item) => total + of(item), 0);
}
