import type { Command } from 'commander';
import { config, renderEnvExample, renderSettingsMarkdown } from '../config/index.ts';

export function registerConfig(program: Command): void {
  const cmd = program.command('config').description('show the effective configuration or generate its docs');
  cmd
    .command('show')
    .description('print every setting as read from the environment')
    .action(() => console.log(JSON.stringify(config(), null, 2)));
  cmd
    .command('env-example')
    .description('print .env.example, generated from config/settings.ts')
    .action(() => {
      process.stdout.write(renderEnvExample());
    });
  cmd
    .command('markdown')
    .description('print the settings table for the README')
    .action(() => console.log(renderSettingsMarkdown()));
}
