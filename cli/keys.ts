// `tidewater keys create|list|revoke`: API keys in the Redis that every API instance reads.
import { type Command, InvalidArgumentError } from 'commander';
import { Redis } from 'ioredis';
import { config } from '../config/index.ts';
import { isRole, KeyStore, ROLES, type Role } from '../serving-layer/keys.ts';

async function withKeys<T>(use: (keys: KeyStore) => Promise<T>): Promise<T> {
  const cfg = config();
  const redis = new Redis(cfg.redisUrl, { maxRetriesPerRequest: 1 });
  try {
    return await use(new KeyStore(redis, cfg.queuePrefix));
  } finally {
    redis.disconnect();
  }
}

const role = (value: string): Role => {
  if (!isRole(value)) throw new InvalidArgumentError(`expected one of ${ROLES.join(', ')}`);
  return value;
};

export function registerKeys(program: Command): void {
  const cmd = program.command('keys').description('API keys of the HTTP API (stored hashed in Redis)');
  cmd
    .command('create')
    .description('create a key and print its secret, which is shown only this once')
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`, role)
    .option('--name <name>', 'who or what uses it', '')
    .action((flags: { role: Role; name: string }) =>
      withKeys(async (keys) => {
        const key = await keys.create(flags.role, flags.name);
        console.log(
          `created key ${key.id} (${key.role}${key.name ? `, ${key.name}` : ''}); its secret, shown once:`,
        );
        console.log(key.secret);
      }),
    );
  cmd
    .command('list')
    .description('list keys (never their secrets)')
    .action(() =>
      withKeys(async (keys) => {
        const all = await keys.list();
        if (all.length === 0) console.log('no keys (tidewater keys create --role reader)');
        for (const k of all) console.log(`${k.id}  ${k.role.padEnd(8)}  ${k.createdAt}  ${k.name}`);
      }),
    );
  cmd
    .command('revoke <id>')
    .description('revoke a key: every API instance refuses it within 2 s')
    .action((id: string) =>
      withKeys(async (keys) => {
        if (!(await keys.revoke(id))) throw new Error(`no key ${id} (tidewater keys list)`);
        console.log(`revoked ${id}`);
      }),
    );
}
