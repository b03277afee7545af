// The one way the platform opens DuckDB: embedded, in memory, in UTC.
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

export interface Duck {
  readonly connection: DuckDBConnection;
  close(): void;
}

/**
 * An in-memory DuckDB that reads and writes timestamps as UTC whatever the machine's zone.
 * `threads` bounds the cores one user (a lake writer) takes from the rest of the process.
 */
export async function openDuck(threads?: number): Promise<Duck> {
  const instance = await DuckDBInstance.create(':memory:', threads ? { threads: String(threads) } : {});
  const connection = await instance.connect();
  await connection.run(`SET TimeZone = 'UTC'`);
  return {
    connection,
    close: () => {
      connection.closeSync();
      instance.closeSync();
    },
  };
}
