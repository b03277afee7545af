// Shared by the late-event tests: generated records through the real gate into both layers, as
// the speed layer and the lake writer would take them (one lake commit, one speed insert), and
// traffic of a minute at a given instant.
import type { ClickHouseClient } from '@clickhouse/client';
import { buildDimensions, indexDimensions, toRawRows } from '../../contracts/index.ts';
import type { GeneratedRecord, GenerateOptions, GroundTruth } from '../../generator/index.ts';
import { EVENTS_SCHEMA, lakeTableDir, openTable, stageAccepted } from '../../lake/index.ts';
import { createGate } from '../../quality/index.ts';
import { insertRaw } from '../../speed-layer/index.ts';
import { asMessages } from './messages.ts';

const dims = indexDimensions(buildDimensions());

/** Returns how many events the gate accepted; `truth` gets every record. */
export async function ingestBoth(
  client: ClickHouseClient,
  dataDir: string,
  records: readonly GeneratedRecord[],
  truth: GroundTruth,
  token: string,
): Promise<number> {
  const passed = createGate().run(asMessages(records, truth)).accepted;
  const table = await openTable(lakeTableDir(dataDir), EVENTS_SCHEMA);
  try {
    await table.appendBatch(stageAccepted(passed, dims));
  } finally {
    table.close();
  }
  await insertRaw(
    client,
    passed.flatMap((r) => toRawRows(r.event, dims)),
    token,
  );
  return passed.length;
}

/** `count` clean events over the minute starting at `at` (ms). */
export const minuteOfTraffic = (at: number, count: number): GenerateOptions => ({
  start: new Date(at).toISOString(),
  count,
  rate: count / 60,
});
