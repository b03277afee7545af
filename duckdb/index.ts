export { DUCKDB_HLL_RELATIVE_ERROR, duckdbDialect } from './dialect.ts';
export { BURST_THREADS, type Duck, JOB_THREADS, openDuck } from './open.ts';
export { readParquet, sqlString, sqlStringList } from './sql.ts';
