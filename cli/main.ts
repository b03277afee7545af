import { Command } from 'commander';
import { ConfigError } from '../config/index.ts';
import { registerBackfill } from './backfill.ts';
import { registerConfig } from './config.ts';
import { registerGenerate } from './generate.ts';
import { registerJobs } from './jobs.ts';
import { registerKeys } from './keys.ts';
import { registerLake } from './lake.ts';
import { registerQuarantine } from './quarantine.ts';
import { registerServices } from './services.ts';
import { registerSpeed } from './speed.ts';
import { registerStart } from './start.ts';

const program = new Command('tidewater')
  .description('tidewater: a Lambda-architecture lakehouse (Kafka, ClickHouse, Parquet/Delta, DuckDB)')
  .showHelpAfterError();

registerStart(program);
registerServices(program);
registerGenerate(program);
registerSpeed(program);
registerQuarantine(program);
registerLake(program);
registerBackfill(program);
registerJobs(program);
registerKeys(program);
registerConfig(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // A CLI user gets the message, not a stack trace; TIDEWATER_DEBUG=1 shows the stack.
  const message =
    err instanceof ConfigError || !process.env.TIDEWATER_DEBUG
      ? (err as Error).message
      : (err as Error).stack;
  console.error(`tidewater: ${message}`);
  process.exitCode = 1;
}
