import type { Command } from 'commander';
import { config } from '../config/index.ts';
import { isRole, ROLES, type Role } from './roles.ts';

const PROGRESS_EVERY_MS = 10_000;
const USES_CLICKHOUSE: readonly Role[] = ['speed', 'serve', 'worker'];
const CONSUMES_EVENTS: readonly Role[] = ['speed', 'lake'];

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run the platform: every role in one process, or the roles named with --role')
    .option(
      '--role <role>',
      `run only this role (repeatable): ${ROLES.join(', ')}`,
      (value: string, previous: Role[] = []) => {
        if (!isRole(value)) throw new Error(`unknown role "${value}"; one of ${ROLES.join(', ')}`);
        return [...previous, value];
      },
    )
    .addHelpText(
      'after',
      '\nWithout --role: local Kafka and Redis are started when none answers, every role runs here on\n' +
        'embedded ClickHouse, and demo traffic flows unless TIDEWATER_DEMO=0. With --role the process\n' +
        'joins the services given by KAFKA_BROKERS, REDIS_URL and CLICKHOUSE_URL; several serve and\n' +
        'worker processes can run at once.',
    )
    .action(async (flags: { role?: Role[] }) => {
      const cfg = config();
      const allInOne = flags.role === undefined;
      const roles = flags.role ?? [...ROLES];
      const { formatStates, servicesUp } = await import('../scripts/services/index.ts');
      if (allInOne) console.log(formatStates(await servicesUp(cfg, (line) => console.log(line))));
      const clickhouseRoles = roles.filter((r) => USES_CLICKHOUSE.includes(r));
      if (!allInOne && !cfg.clickhouseUrl && clickhouseRoles.length > 0)
        console.warn(
          `warning: ${clickhouseRoles.join(', ')} on embedded ClickHouse: its data directory belongs to this ` +
            'process alone; set CLICKHOUSE_URL to share a server between processes.',
        );
      const { startPlatform } = await import('./platform.ts');
      const platform = await startPlatform(cfg, { roles, demo: allInOne && cfg.demo });
      if (roles.some((r) => CONSUMES_EVENTS.includes(r))) {
        const { createKafka, eventsPartitionsWarning } = await import('../kafka/index.ts');
        const warning = await eventsPartitionsWarning(createKafka(cfg, 'start'), cfg);
        if (warning) console.warn(warning);
      }
      console.log(
        `Kafka ${cfg.kafkaBrokers.join(',')}, Redis ${cfg.redisUrl}, data in ${cfg.dataDir}. Ctrl-C stops.`,
      );
      const progress = setInterval(() => {
        const line = platform.status();
        if (line) console.log(line);
      }, PROGRESS_EVERY_MS);
      const signal = await new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      console.log(`\n${signal}: stopping (finishing and committing what is in flight)...`);
      clearInterval(progress);
      await platform.stop();
      console.log('stopped.');
    });
}
