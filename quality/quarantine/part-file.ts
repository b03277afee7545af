// Writes one Parquet file of the quarantine table, atomically: DuckDB reads the staged messages and
// writes a hidden temporary file, which is then committed under its final name.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { sqlString } from '../../duckdb/index.ts';
import { commitFile } from './files.ts';
import type { QuarantineMessage } from './message.ts';
import { dayDir, inProgressName, partFileName } from './table.ts';

/** A staged line: the wire message plus where it sits in the quarantine topic. */
export interface StagedMessage extends QuarantineMessage {
  quarantinePartition: number;
  quarantineOffset: string;
}

export interface PartFile {
  partition: number;
  /** UTC day of every message's rejectedAt. */
  day: string;
  first: bigint;
  last: bigint;
  messages: StagedMessage[];
}

const FAILURE = 'STRUCT(ruleId VARCHAR, severity VARCHAR, message VARCHAR)';
const STAGED_COLUMNS = {
  sourceTopic: 'VARCHAR',
  sourcePartition: 'INTEGER',
  sourceOffset: 'BIGINT',
  sourceKey: 'VARCHAR',
  sourceTimestamp: 'BIGINT',
  original: 'VARCHAR',
  eventId: 'VARCHAR',
  eventType: 'VARCHAR',
  eventTime: 'VARCHAR',
  ruleIds: 'VARCHAR[]',
  failures: `${FAILURE}[]`,
  rejectedAt: 'VARCHAR',
  quarantinePartition: 'INTEGER',
  quarantineOffset: 'BIGINT',
};
const columnsSql = `{${Object.entries(STAGED_COLUMNS)
  .map(([name, type]) => `${name}: '${type}'`)
  .join(', ')}}`;

// The day column is not stored in the file: hive partitioning derives it from the directory.
// Times are instants, so TIMESTAMPTZ: Parquet timestamps adjusted to UTC, read as instants by any
// reader (files written before hold TIMESTAMP, not adjusted; the store reads both, by name).
const copySql = (staged: string, target: string): string => `
  COPY (
    SELECT
      CAST(rejectedAt AS TIMESTAMPTZ) AS rejected_at,
      sourceTopic AS source_topic,
      sourcePartition AS source_partition,
      sourceOffset AS source_offset,
      from_base64(sourceKey) AS source_key,
      make_timestamptz(sourceTimestamp * 1000) AS source_timestamp,
      eventId AS event_id,
      eventType AS event_type,
      -- the gate reports event time as it found it; unparseable values stay readable in the original
      TRY_CAST(eventTime AS TIMESTAMPTZ) AS event_time,
      ruleIds AS rule_ids,
      list_transform(failures, lambda f: {'rule_id': f.ruleId, 'severity': f.severity, 'message': f.message}) AS failures,
      from_base64(original) AS original,
      quarantinePartition AS quarantine_partition,
      quarantineOffset AS quarantine_offset
    FROM read_json(${sqlString(staged)}, format = 'newline_delimited', columns = ${columnsSql})
  ) TO ${sqlString(target)} (FORMAT parquet, COMPRESSION zstd)`;

/** Writes `part` and returns its path; a crash at any point leaves either the whole file or none. */
export async function writePartFile(
  connection: DuckDBConnection,
  root: string,
  part: PartFile,
): Promise<string> {
  const dir = dayDir(root, part.day);
  await mkdir(dir, { recursive: true });
  const name = partFileName(part.partition, part.first, part.last);
  const staged = join(dir, inProgressName(`${name}.ndjson`));
  const temporary = join(dir, inProgressName(name));
  const target = join(dir, name);
  try {
    await writeFile(staged, part.messages.map((m) => JSON.stringify(m)).join('\n'));
    await connection.run(copySql(staged, temporary));
    await commitFile(temporary, target);
  } finally {
    await rm(staged, { force: true });
  }
  return target;
}
