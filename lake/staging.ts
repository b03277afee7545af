// Batches gathered for one later commit. Small batches wait as rows in a DuckDB table (a range of a
// few dozen events would otherwise be a Parquet file of its own) until they add up to a file's
// worth; a batch that is a file's worth by itself, and the table once it is, go to Parquet files
// at once, which no version references until the commit: a crash leaves them to vacuum.
import type { DuckDBConnection } from '@duckdb/node-api';
import type { AddFile } from './delta-log/index.ts';
import { addActions } from './parquet/add-actions.ts';
import { ident, type StagedBatch } from './parquet/stage.ts';
import { writePartitioned } from './parquet/write.ts';
import { duckdbType, type TableSchema } from './schema.ts';

/**
 * Rows of small batches held in DuckDB before they are written: ~50,000 rows take ~40 MB there
 * (measured: 209k event rows, 171 MB) and make a ~4.5 MB zstd file.
 */
const BUFFER_ROWS = 50_000;
/** A batch of at least this many rows is written straight to its files: buffering it costs ~25% more. */
const DIRECT_ROWS = BUFFER_ROWS / 2;
/** Parquet bytes per row assumed for buffered rows until a file of this staging says otherwise. */
const INITIAL_BYTES_PER_ROW = 90;

let tables = 0;

export class Staging {
  private readonly buffer = `lake_buffer_${++tables}`;
  private created = false;
  private bufferedRows = 0;
  private bytesPerRow = INITIAL_BYTES_PER_ROW;
  private readonly written: AddFile[] = [];
  private writtenBytes = 0;

  constructor(
    private readonly connection: DuckDBConnection,
    private readonly dir: string,
    private readonly schema: TableSchema,
  ) {}

  /** Parquet bytes staged: files written, plus an estimate for the rows still in DuckDB. */
  get bytes(): number {
    return this.writtenBytes + this.bufferedRows * this.bytesPerRow;
  }

  get empty(): boolean {
    return this.written.length === 0 && this.bufferedRows === 0;
  }

  /** Adds a staged batch (the table's caller runs one operation at a time on the connection). */
  async add(batch: StagedBatch): Promise<void> {
    const counted = await this.connection.runAndReadAll(`SELECT count(*) FROM (${batch.partitionKeys})`);
    const rows = Number(counted.getRowsJS()[0]?.[0] ?? 0);
    if (rows >= DIRECT_ROWS) {
      await this.write(batch);
      return;
    }
    if (!this.created) {
      const columns = this.schema.columns.map((c) => `${ident(c.name)} ${duckdbType(c.type)}`);
      await this.connection.run(`CREATE OR REPLACE TEMP TABLE ${this.buffer} (${columns.join(', ')})`);
      this.created = true;
    }
    const inserted = await this.connection.runAndReadAll(`INSERT INTO ${this.buffer} ${batch.rows}`);
    this.bufferedRows += Number(inserted.getRowsJS()[0]?.[0] ?? 0);
    if (this.bufferedRows >= BUFFER_ROWS) await this.writeBuffer();
  }

  /** Every staged row as add actions (the buffer written first); the staging is then spent. */
  async files(): Promise<AddFile[]> {
    await this.writeBuffer();
    await this.drop();
    return [...this.written];
  }

  /** Frees the DuckDB table; files already written are left to vacuum. */
  async drop(): Promise<void> {
    if (this.created) await this.connection.run(`DROP TABLE IF EXISTS ${this.buffer}`);
    this.created = false;
    this.bufferedRows = 0;
  }

  private async writeBuffer(): Promise<void> {
    if (this.bufferedRows === 0) return;
    const all = `SELECT * FROM ${this.buffer}`;
    const rows = this.bufferedRows;
    const bytes = await this.write({ rows: all, partitionKeys: all });
    if (rows > 0 && bytes > 0) this.bytesPerRow = bytes / rows;
    // Dropped rather than emptied: DuckDB's DELETE only marks rows deleted, and an in-memory table
    // keeps their storage until it is dropped, so a buffer emptied by DELETE held every row staged
    // since its commit began (713 MB of DuckDB memory for 1M events staged in ranges of 20,000,
    // against the ~40 MB of the 50,000 rows it holds at most).
    await this.drop();
  }

  /** Writes the batch's files and their add actions; returns the bytes written. */
  private async write(batch: StagedBatch): Promise<number> {
    const files = await writePartitioned(this.connection, this.dir, this.schema, batch);
    const adds = await addActions(this.connection, this.dir, this.schema, files, true);
    const bytes = adds.reduce((sum, a) => sum + a.size, 0);
    this.written.push(...adds);
    this.writtenBytes += bytes;
    return bytes;
  }
}
