import { type Command, InvalidArgumentError } from 'commander';
import { config } from '../config/index.ts';
import type { LakeTable } from '../lake/index.ts';
import type { JobPayloads, QueueName } from '../orchestration/index.ts';
import { finish, positiveInt, waitForJob, withOrchestrator } from './jobs.ts';

const PROGRESS_EVERY_MS = 5_000;

const nonNegative = (what: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${what} must be a non-negative number`);
  return n;
};

/**
 * Runs a maintenance job through its queue when a worker serves it (waiting for it), so that it
 * takes turns with the other lake jobs; false when no worker does and the caller runs it here.
 */
function viaQueue<Q extends QueueName>(queue: Q, data: JobPayloads[Q]): Promise<boolean> {
  return withOrchestrator(async (o) => {
    if ((await o.workerCount(queue)) === 0) return false;
    const { job } = await o.enqueue(queue, data);
    console.error(`queued: job ${job.id}`);
    finish(await waitForJob(o, job.id));
    return true;
  });
}

async function withTable<T>(use: (table: LakeTable) => Promise<T>): Promise<T> {
  const { EVENTS_SCHEMA, lakeTableDir, openTable } = await import('../lake/index.ts');
  const table = await openTable(lakeTableDir(config().dataDir), EVENTS_SCHEMA);
  try {
    return await use(table);
  } finally {
    table.close();
  }
}

export function registerLake(program: Command): void {
  const lake = program
    .command('lake')
    .description('the lake: Parquet partitions with a Delta-format commit log');

  lake
    .command('write')
    .description('run the lake writer: the events topic through the quality gate into the lake')
    .option('--group <id>', 'Kafka consumer group (default: TIDEWATER_LAKE_GROUP)')
    .option('--max-records <n>', 'records per lake commit at most', nonNegative('--max-records'))
    .option(
      '--session-timeout <ms>',
      'how long a silent writer keeps its partitions (default 30000)',
      nonNegative('--session-timeout'),
    )
    .action(async (flags: { group?: string; maxRecords?: number; sessionTimeout?: number }) => {
      const cfg = config();
      const { lakeTableDir, startLakeWriter } = await import('../lake/index.ts');
      const writer = await startLakeWriter(cfg, {
        groupId: flags.group,
        maxRecords: flags.maxRecords,
        sessionTimeoutMs: flags.sessionTimeout,
      });
      console.log(
        `lake writer: topic "${cfg.eventsTopic}" -> ${lakeTableDir(cfg.dataDir)}, group "${writer.consumer.groupId}". Ctrl-C stops.`,
      );
      let last = 0;
      const timer = setInterval(() => {
        const delivered = writer.consumer.delivered;
        const lag = [...writer.consumer.lag.values()].reduce((a, b) => a + b, 0);
        console.log(
          `lake: ${Math.round(((delivered - last) * 1000) / PROGRESS_EVERY_MS)} events/s, lag ${lag}, version ${writer.table.current.version}`,
        );
        last = delivered;
      }, PROGRESS_EVERY_MS);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      clearInterval(timer);
      await writer.stop();
    });

  lake
    .command('history')
    .description('list the commits of the events table, oldest first')
    .option('--last <n>', 'only the newest n commits (each is a file read)', positiveInt)
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean; last?: number }) => {
      const history = await withTable((t) => t.history({ last: flags.last }));
      if (flags.json) console.log(JSON.stringify(history, null, 2));
      else
        for (const h of history)
          console.log(
            `${String(h.version).padStart(6)}  ${new Date(h.timestamp).toISOString()}  ${h.operation.padEnd(8)} +${h.filesAdded} -${h.filesRemoved} files  ${JSON.stringify(h.operationParameters)}`,
          );
    });

  lake
    .command('verify')
    .description('re-hash every data file of a version against its checksum in the log')
    .option('--as-of <version>', 'the version to verify (default: the latest)', (v) => Number(v))
    .action(async (flags: { asOf?: number }) => {
      const result = await withTable((t) => t.verify({ version: flags.asOf }));
      for (const p of result.problems) console.log(`CORRUPT  ${p.path}: ${p.problem}`);
      console.log(
        `version ${result.version}: ${result.files} files checked, ${result.problems.length} do not match the log`,
      );
      if (result.problems.length > 0) process.exitCode = 2;
    });

  lake
    .command('optimize')
    .description('compact small files of each partition of the events and quarantine tables (no data change)')
    .action(async () => {
      if (await viaQueue('optimize', {})) return;
      const { eachLakeTable } = await import('../lake/index.ts');
      await eachLakeTable(config().dataDir, async (t, name) => {
        const result = await t.optimize();
        console.log(
          `optimize ${name}: version ${result.version}, ${result.filesRemoved} files -> ${result.filesAdded}`,
        );
      });
    });

  lake
    .command('vacuum')
    .description(
      'delete files no snapshot of the events or quarantine table within the retention references, and batch versions superseded longer than it',
    )
    .option(
      '--retention-hours <h>',
      'keep files referenced within this many hours',
      nonNegative('--retention-hours'),
      168,
    )
    .option(
      '--orphan-minutes <m>',
      'delete files no version ever referenced once this old (default: TIDEWATER_VACUUM_ORPHAN_MINUTES)',
      nonNegative('--orphan-minutes'),
    )
    .option(
      '--log-retention-hours <h>',
      'delete the log (commits and checkpoints) older than this many hours (default: TIDEWATER_LAKE_LOG_RETENTION_HOURS)',
      nonNegative('--log-retention-hours'),
    )
    .action(async (flags: { retentionHours: number; orphanMinutes?: number; logRetentionHours?: number }) => {
      const options = {
        retentionHours: flags.retentionHours,
        orphanMinutes: flags.orphanMinutes ?? config().vacuumOrphanMinutes,
        logRetentionHours: flags.logRetentionHours ?? config().lakeLogRetentionHours,
      };
      if (await viaQueue('vacuum', options)) return;
      const { eachLakeTable } = await import('../lake/index.ts');
      await eachLakeTable(config().dataDir, async (t, name) => {
        const { deleted, logFilesDeleted } = await t.vacuum(options);
        console.log(`vacuum ${name}: deleted ${deleted.length} data file(s), ${logFilesDeleted} log file(s)`);
      });
      const { batchViewsDir, vacuumBatchViews } = await import('../batch-layer/index.ts');
      const versions = vacuumBatchViews(batchViewsDir(config().dataDir), options);
      console.log(`vacuum batch views: deleted ${versions.length} superseded or abandoned batch version(s)`);
    });
}
