import type { Command } from 'commander';
import { config } from '../config/index.ts';

export function registerServices(program: Command): void {
  program
    .command('services')
    .description('start, stop or inspect the local Kafka broker and Redis (no Docker needed)')
    .argument('<action>', 'up | down | status')
    .action(async (action: string) => {
      const cfg = config();
      const { formatStates, servicesDown, servicesStatus, servicesUp } = await import(
        '../scripts/services/index.ts'
      );
      const log = (line: string) => console.log(line);
      switch (action) {
        case 'up':
          console.log(formatStates(await servicesUp(cfg, log)));
          break;
        case 'down':
          console.log(formatStates(await servicesDown(cfg)));
          break;
        case 'status':
          console.log(formatStates(await servicesStatus(cfg)));
          break;
        default:
          throw new UsageError(`unknown action "${action}": expected up, down or status`);
      }
    });
}

export class UsageError extends Error {}
