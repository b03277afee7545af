import type { Command } from 'commander';
import { config } from '../config/index.ts';
import { loadPlatformDimensions } from '../contracts/index.ts';
import { generate, paced, produceToKafka } from '../generator/index.ts';
import { createKafka } from '../kafka/index.ts';
import { lakeTableDir, startLakeWriter } from '../lake/index.ts';
import { QuarantineLakeWriter, quarantineTableDir } from '../quality/index.ts';
import { formatStates, servicesUp } from '../scripts/services/index.ts';
import { startServing } from '../serving-layer/index.ts';
import { connectCommitPublisher, startSpeedLayer } from '../speed-layer/index.ts';

/** Shares of imperfect demo traffic: enough to keep the quality gate and late handling busy. */
const DEMO_FAULTS = { lateFraction: 0.01, duplicateFraction: 0.005, badFraction: 0.005 };

const PROGRESS_EVERY_MS = 10_000;

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run the platform on this machine: local services, then every component in one process')
    .action(async () => {
      const cfg = config();
      console.log(formatStates(await servicesUp(cfg, (line) => console.log(line))));
      const dimensions = await loadPlatformDimensions(cfg.dataDir);

      // Embedded ClickHouse belongs to one process, so the speed layer runs here with the rest.
      const commits = connectCommitPublisher(cfg);
      const speed = await startSpeedLayer(cfg, { commits: commits.publisher });
      const lake = await startLakeWriter(cfg);
      const quarantine = new QuarantineLakeWriter({
        kafka: createKafka(cfg, 'quarantine-lake'),
        topic: cfg.quarantineTopic,
        root: quarantineTableDir(cfg.dataDir),
      });
      await quarantine.start();
      console.log(`speed layer: "${cfg.eventsTopic}" -> ClickHouse ${cfg.clickhouseUrl ?? '(embedded)'}`);
      console.log(`lake writer: "${cfg.eventsTopic}" -> ${lakeTableDir(cfg.dataDir)}`);
      console.log(`quarantine: "${cfg.quarantineTopic}" -> ${quarantineTableDir(cfg.dataDir)}`);
      const api = await startServing(cfg, { clickhouse: speed.clickhouse });
      console.log(`API: ${api.url} (docs ${api.url}/docs, Prometheus ${api.url}/metrics)`);
      if (!cfg.auth) console.log('API keys are off (TIDEWATER_AUTH=0): every route is open');
      else if (api.bootstrapKey)
        console.log(`admin API key, shown this once (tidewater keys create for more): ${api.bootstrapKey}`);

      const abort = new AbortController();
      const stopped = new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      const running: Promise<unknown>[] = [];
      if (cfg.demo) {
        const traffic = generate({
          seed: cfg.seed,
          start: Date.now(),
          rate: cfg.demoRate,
          dimensions,
          ...DEMO_FAULTS,
        });
        running.push(produceToKafka(paced(traffic, cfg.demoRate, abort.signal), cfg, cfg.demoRate));
        console.log(
          `demo traffic: ${cfg.demoRate} events/s into "${cfg.eventsTopic}" (TIDEWATER_DEMO=0 turns it off)`,
        );
      }
      console.log(
        `Kafka ${cfg.kafkaBrokers.join(',')}, Redis ${cfg.redisUrl}, data in ${cfg.dataDir}. Ctrl-C stops.`,
      );

      const progress = setInterval(() => {
        const lag = (m: ReadonlyMap<number, number>) => [...m.values()].reduce((a, b) => a + b, 0);
        console.log(
          `speed: ${speed.consumer.delivered} events, lag ${lag(speed.consumer.lag)}; lake: version ${lake.table.current.version}, lag ${lag(lake.consumer.lag)}`,
        );
      }, PROGRESS_EVERY_MS);

      console.log(`\n${await stopped}: stopping (finishing and committing what is in flight)...`);
      clearInterval(progress);
      abort.abort();
      await Promise.all(running);
      await api.close();
      await Promise.all([speed.stop(), lake.stop(), quarantine.stop()]);
      commits.close();
      console.log('stopped.');
    });
}
