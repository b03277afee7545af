import type { Command } from 'commander';
import { config } from '../config/index.ts';
import { loadPlatformDimensions } from '../contracts/index.ts';
import { generate, paced, produceToKafka } from '../generator/index.ts';
import { formatStates, servicesUp } from '../scripts/services/index.ts';

/** Shares of imperfect demo traffic: enough to keep the quality gate and late handling busy. */
const DEMO_FAULTS = { lateFraction: 0.01, duplicateFraction: 0.005, badFraction: 0.005 };

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run the platform on this machine: local services, then every component in one process')
    .action(async () => {
      const cfg = config();
      console.log(formatStates(await servicesUp(cfg, (line) => console.log(line))));
      const dimensions = await loadPlatformDimensions(cfg.dataDir);

      const abort = new AbortController();
      const stop = (signal: string) => {
        console.log(`\n${signal}: stopping (flushing what is in flight)...`);
        abort.abort();
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));

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
          `demo traffic: ${cfg.demoRate} events/s into topic "${cfg.eventsTopic}" (TIDEWATER_DEMO=0 turns it off)`,
        );
      }
      console.log(
        `Kafka ${cfg.kafkaBrokers.join(',')}, Redis ${cfg.redisUrl}, data in ${cfg.dataDir}. Ctrl-C stops.`,
      );
      await Promise.all(running);
      console.log('stopped.');
    });
}
