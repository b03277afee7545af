import path from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { backfill } from '../batch-layer/index.ts';
import { config } from '../config/index.ts';
import { lakeTableDir } from '../lake/index.ts';
import { createClickHouse } from '../speed-layer/index.ts';

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
    .addHelpText(
      'after',
      '\nWith embedded ClickHouse (no CLICKHOUSE_URL) the data directory belongs to one process: run this\nwhile the platform is stopped, or point CLICKHOUSE_URL at a server.',
    )
    .action(async (flags: { from: string; to: string; asOf?: number }) => {
      const cfg = config();
      const client = createClickHouse({ url: cfg.clickhouseUrl, dataDir: cfg.dataDir });
      try {
        const result = await backfill({
          client,
          lakeDir: lakeTableDir(cfg.dataDir),
          viewsDir: path.join(cfg.dataDir, 'batch-views'),
          from: `${flags.from}T00:00:00Z`,
          to: `${flags.to}T00:00:00Z`,
          asOfVersion: flags.asOf,
          allowedLatenessMs: cfg.allowedLatenessMinutes * 60_000,
          onProgress: (p) =>
            console.log(
              `[${p.done}/${p.total}] ${p.day}: ${p.rows.toLocaleString('en')} rollup rows (${(p.elapsedMs / 1000).toFixed(1)} s)`,
            ),
        });
        const last = result.days.at(-1)?.result.watermark;
        console.log(
          `backfilled ${result.days.length} day(s) from lake version ${result.lakeVersion}; batch watermark ${last?.state?.watermark ?? 'not set'}`,
        );
      } finally {
        await client.close();
      }
    });
}
