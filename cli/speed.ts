import type { Command } from 'commander';
import { config } from '../config/index.ts';

const positive = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} expects a positive integer, got "${value}"`);
  return n;
};

const PROGRESS_EVERY_MS = 5_000;

interface Flags {
  group?: string;
  maxRecords?: number;
  dedupLookback?: number;
  sessionTimeout?: number;
  metricsPort?: number;
}

export function registerSpeed(program: Command): void {
  program
    .command('speed')
    .description(
      'run the speed layer: consume the events topic through the quality gate into ClickHouse views',
    )
    .option('--group <id>', 'Kafka consumer group (default: TIDEWATER_SPEED_GROUP)')
    .option('--max-records <n>', 'records per ClickHouse insert at most', positive('max-records'))
    .option(
      '--dedup-lookback <n>',
      'records re-read before the committed offset to rebuild the dedup window',
      positive('dedup-lookback'),
    )
    .option(
      '--session-timeout <ms>',
      'how long a silent consumer keeps its partitions',
      positive('session-timeout'),
    )
    .option(
      '--metrics-port <port>',
      'serve Prometheus metrics on this port at /metrics',
      positive('metrics-port'),
    )
    .action(async (flags: Flags) => {
      const cfg = config();
      const [
        { Registry },
        { GATED_CONSUMER_DEFAULTS },
        { connectCommitPublisher, retiredViewsNotice, serveMetrics, startSpeedLayer },
      ] = await Promise.all([
        import('prom-client'),
        import('../pipeline/index.ts'),
        import('../speed-layer/index.ts'),
      ]);
      const registry = new Registry();
      // API instances elsewhere learn of each commit (live push, query cache).
      const commits = connectCommitPublisher(cfg);
      const speed = await startSpeedLayer(cfg, {
        commits: commits.publisher,
        groupId: flags.group,
        maxRecords: flags.maxRecords,
        dedupLookback: flags.dedupLookback,
        sessionTimeoutMs: flags.sessionTimeout,
        registry,
      });
      if (speed.retiredViews.length > 0) console.log(retiredViewsNotice(speed.retiredViews));
      const metricsServer =
        flags.metricsPort === undefined ? undefined : await serveMetrics(registry, flags.metricsPort);
      console.log(
        `speed layer: topic "${cfg.eventsTopic}" -> ClickHouse ${cfg.clickhouseUrl ?? `(embedded, ${cfg.dataDir})`}, group "${speed.consumer.groupId}", ` +
          `${flags.maxRecords ?? GATED_CONSUMER_DEFAULTS.maxRecords} records per insert at most. Ctrl-C stops.`,
      );

      let last = { at: performance.now(), delivered: 0 };
      const timer = setInterval(() => {
        const now = { at: performance.now(), delivered: speed.consumer.delivered };
        const rate = ((now.delivered - last.delivered) * 1000) / (now.at - last.at);
        const lag = [...speed.consumer.lag.values()].reduce((sum, n) => sum + n, 0);
        console.log(`${Math.round(rate).toLocaleString('en')} events/s, lag ${lag.toLocaleString('en')}`);
        last = now;
      }, PROGRESS_EVERY_MS);

      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          console.log(`${signal}: finishing the batch in hand...`);
          resolve();
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
      clearInterval(timer);
      metricsServer?.close();
      await speed.stop();
      commits.close();
      console.log(`stopped after ${speed.consumer.delivered.toLocaleString('en')} records.`);
    });
}
