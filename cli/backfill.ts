import { type Command, InvalidArgumentError } from 'commander';
import { config } from '../config/index.ts';
import { finish, waitForJob, withOrchestrator } from './jobs.ts';

const version = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a lake version (0, 1, 2, ...)');
  return n;
};

export function registerBackfill(program: Command): void {
  program
    .command('backfill')
    .description(
      'recompute every metric for whole UTC days [from, to) from the lake and replace the batch view',
    )
    .requiredOption('--from <date>', 'first day, e.g. 2025-01-01')
    .requiredOption('--to <date>', 'day after the last, e.g. 2025-01-08')
    .option('--as-of <version>', 'lake version to read (default: the latest)', version)
    .option('--wait', 'when queued, wait for the job and show its progress')
    .option('--rerun', 'when queued, run again even if this range and version already completed')
    .option(
      '--full',
      "scan every hour of each day (default: build on the day's batch view, scanning only the hours whose lake data changed since)",
    )
    .addHelpText(
      'after',
      '\nWhen a worker serves the backfill queue (`npm start`, `tidewater worker`) the backfill becomes a job\nthere; otherwise it runs in this process. With embedded ClickHouse (no CLICKHOUSE_URL) the data\ndirectory belongs to one process: then run it in-process only while the platform is stopped.',
    )
    .action(
      async (flags: {
        from: string;
        to: string;
        asOf?: number;
        wait?: boolean;
        rerun?: boolean;
        full?: boolean;
      }) => {
        const queued = await withOrchestrator(async (o) => {
          if ((await o.workerCount('backfill')) === 0) return false;
          const { job, created } = await o.requestBackfill(flags);
          console.error(`${created ? 'queued' : 'already requested'}: job ${job.id} (${job.status})`);
          if (flags.wait) finish(await waitForJob(o, job.id));
          return true;
        });
        if (queued) return;
        const [{ backfill, batchViewsDir }, { lakeTableDir }, { createClickHouse }] = await Promise.all([
          import('../batch-layer/index.ts'),
          import('../lake/index.ts'),
          import('../clickhouse/index.ts'),
        ]);
        const cfg = config();
        const client = createClickHouse({ url: cfg.clickhouseUrl, dataDir: cfg.dataDir });
        try {
          const result = await backfill({
            client,
            lakeDir: lakeTableDir(cfg.dataDir),
            viewsDir: batchViewsDir(cfg.dataDir),
            from: `${flags.from}T00:00:00Z`,
            to: `${flags.to}T00:00:00Z`,
            asOfVersion: flags.asOf,
            full: flags.full,
            allowedLatenessMs: cfg.allowedLatenessMinutes * 60_000,
            onProgress: (p) =>
              console.log(
                `[${p.done}/${p.total}] ${p.day}: ${p.rows.toLocaleString('en')} rollup rows, ${p.hoursScanned} of 24 hours scanned, ${p.viewFilesRead} view files loaded (${(p.elapsedMs / 1000).toFixed(1)} s)`,
              ),
          });
          const stale = result.days.flatMap((d) => d.result.load.staleStagingDropped);
          if (stale.length > 0)
            console.log(`dropped staging tables a dead load had left: ${stale.join(', ')}`);
          const last = result.days.at(-1)?.result.watermark;
          console.log(
            `backfilled ${result.days.length} day(s) from lake version ${result.lakeVersion}; batch watermark ${last?.state?.watermark ?? 'not set'}`,
          );
        } finally {
          await client.close();
        }
      },
    );
}
