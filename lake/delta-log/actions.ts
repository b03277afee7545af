// The Delta Lake actions this log writes and reads (PROTOCOL.md of delta-io/delta, reader 1 /
// writer 2). Each line of a version file is one object with exactly one of these keys.

export interface Protocol {
  minReaderVersion: number;
  minWriterVersion: number;
}

export interface Metadata {
  id: string;
  name?: string;
  format: { provider: 'parquet'; options: Record<string, string> };
  schemaString: string;
  partitionColumns: string[];
  configuration: Record<string, string>;
  createdTime: number;
}

/** Partition values are strings (null for a null value), keyed by partition column. */
export type PartitionValues = Record<string, string | null>;

export interface AddFile {
  /** URI-encoded path relative to the table root. */
  path: string;
  partitionValues: PartitionValues;
  size: number;
  modificationTime: number;
  /** False when the commit only rearranges existing rows (compaction). */
  dataChange: boolean;
  /** JSON: numRecords, minValues, maxValues, nullCount. */
  stats?: string;
  /** Free-form metadata; tidewater keeps the file's SHA-256 here (lake/verify.ts). */
  tags?: Record<string, string>;
}

export interface RemoveFile {
  path: string;
  deletionTimestamp: number;
  dataChange: boolean;
  extendedFileMetadata?: boolean;
  partitionValues?: PartitionValues;
  size?: number;
}

/** Idempotent-writer progress: `version` is the next source position the app would write. */
export interface Txn {
  appId: string;
  version: number;
  lastUpdated?: number;
}

export interface CommitInfo {
  timestamp: number;
  operation: string;
  /** Values JSON-encoded, as Spark writes them. */
  operationParameters: Record<string, string>;
  engineInfo?: string;
  isBlindAppend?: boolean;
}

export type Action =
  | { protocol: Protocol }
  | { metaData: Metadata }
  | { add: AddFile }
  | { remove: RemoveFile }
  | { txn: Txn }
  | { commitInfo: CommitInfo };

/** File statistics as the `stats` string of an add action holds them. */
export interface FileStats {
  numRecords: number;
  minValues: Record<string, unknown>;
  maxValues: Record<string, unknown>;
  nullCount: Record<string, number>;
}

export const ACTION_KEYS = ['protocol', 'metaData', 'add', 'remove', 'txn', 'commitInfo'] as const;

/**
 * Parses one line of a version file. Actions this implementation does not know (cdc, domainMetadata,
 * ...) are refused rather than skipped: silently ignoring one could hide rows or show deleted ones.
 */
export function parseAction(line: string, where: string): Action {
  const value: unknown = JSON.parse(line);
  if (value === null || typeof value !== 'object') throw new Error(`${where}: action is not an object`);
  const keys = Object.keys(value);
  if (keys.length !== 1 || !(ACTION_KEYS as readonly string[]).includes(keys[0] as string)) {
    throw new Error(`${where}: unsupported action ${JSON.stringify(keys)}`);
  }
  return value as Action;
}
