// Which quarantined records a replay has republished, keyed by source coordinates. Entries are
// written only after Kafka acknowledged the republished records, as NDJSON files that appear whole.
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sqlString } from '../../duckdb/index.ts';
import { commitFile, listNames } from './files.ts';

export interface LedgerEntry {
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: string;
  eventId: string | null;
  /** ISO time of the acknowledgement. */
  replayedAt: string;
}

const LEDGER_FILE = /^replay-.*\.ndjson$/;
const COLUMNS = `{sourceTopic: 'VARCHAR', sourcePartition: 'INTEGER', sourceOffset: 'BIGINT', eventId: 'VARCHAR', replayedAt: 'TIMESTAMP'}`;

export class ReplayLedger {
  constructor(readonly dir: string) {}

  /** The ledger kept beside a quarantine table (`_replayed/`, which the table's day glob skips). */
  static forTable(root: string): ReplayLedger {
    return new ReplayLedger(join(root, '_replayed'));
  }

  async record(entries: readonly LedgerEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await mkdir(this.dir, { recursive: true });
    const name = `replay-${Date.now()}-${randomUUID()}.ndjson`;
    const temporary = join(this.dir, `.${name}.tmp`);
    await writeFile(temporary, `${entries.map((e) => JSON.stringify(e)).join('\n')}\n`);
    await commitFile(temporary, join(this.dir, name));
  }

  /** A SQL relation of the entries (sourceTopic, sourcePartition, sourceOffset, ...); empty when none. */
  async relationSql(): Promise<string> {
    if (!(await listNames(this.dir)).some((n) => LEDGER_FILE.test(n))) {
      return `(SELECT NULL::VARCHAR AS sourceTopic, NULL::INTEGER AS sourcePartition, NULL::BIGINT AS sourceOffset WHERE false)`;
    }
    const glob = sqlString(join(this.dir, 'replay-*.ndjson'));
    return `read_json(${glob}, format = 'newline_delimited', columns = ${COLUMNS})`;
  }
}
