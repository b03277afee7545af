import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

export interface Duck {
  readonly connection: DuckDBConnection;
  close(): void;
}

/** An in-memory DuckDB that reads and writes timestamps as UTC whatever the machine's zone. */
export async function openDuck(): Promise<Duck> {
  const instance = await DuckDBInstance.create(':memory:');
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

/**
 * A SQL string literal. Only for paths the platform builds itself: DuckDB cannot bind a parameter in
 * COPY ... TO, and user input always goes through bound parameters.
 */
export const sqlLiteral = (s: string): string => `'${s.replaceAll("'", "''")}'`;
