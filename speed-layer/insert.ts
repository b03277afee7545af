import type { ClickHouseClient } from '@clickhouse/client';
import { encodeRows, insertEncoded } from '../clickhouse/index.ts';
import type { RawRow } from '../contracts/catalog.ts';
import { RAW_TABLE } from './ddl.ts';

/**
 * Inserts `rows` into the raw table as one block deduplicated by `token`: the raw table and every
 * metric view drop a retry with the same token (derive it from the Kafka topic, partition and offset
 * range; a retry must send the same rows in the same order).
 */
export function insertRaw(client: ClickHouseClient, rows: readonly RawRow[], token: string): Promise<void> {
  return insertEncoded(client, RAW_TABLE, rows.length > 0 ? encodeRows(rows) : undefined, token);
}
