import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../config/index.ts';
import { isListening } from '../../kafka/index.ts';
import { hasCommand, isRoot, run } from './commands.ts';
import { type ManagedProcess, runningPid, startDetached, stopManaged, tail, waitFor } from './processes.ts';
import type { ServiceState } from './types.ts';

type RedisServiceConfig = Pick<Config, 'redisUrl' | 'stateDir'>;

function paths(cfg: RedisServiceConfig) {
  const root = path.resolve(cfg.stateDir, 'redis');
  return {
    root,
    proc: {
      name: 'redis',
      pidFile: path.join(root, 'redis.pid'),
      logFile: path.join(root, 'redis.log'),
      signature: 'redis-server',
    } satisfies ManagedProcess,
  };
}

function endpoint(cfg: RedisServiceConfig): { host: string; port: number } {
  const url = new URL(cfg.redisUrl);
  return { host: url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(url.port || 6379) };
}

/** Whether a Redis answers a PING (any RESP reply, an auth error included, means it is there). */
export function redisAnswers(cfg: RedisServiceConfig, timeoutMs = 1_000): Promise<boolean> {
  const { host, port } = endpoint(cfg);
  return isListening(host, port, timeoutMs, {
    send: 'PING\r\n',
    answered: (reply) => /^[+-]/.test(reply.toString()),
  });
}

function ensureRedisServer(log: (s: string) => void): void {
  if (hasCommand('redis-server')) return;
  if (!isRoot() || !hasCommand('apt-get')) {
    throw new Error(
      'redis-server is not installed: install it (apt-get install redis-server) or set REDIS_URL',
    );
  }
  log('installing redis-server from Debian packages...');
  run('apt-get', ['update', '-qq'], 'apt-get update failed');
  run('apt-get', ['install', '-y', '-qq', 'redis-server'], 'apt-get install redis-server failed');
}

export async function redisUp(cfg: RedisServiceConfig, log: (s: string) => void): Promise<ServiceState> {
  const p = paths(cfg);
  const ours = runningPid(p.proc);
  if (await redisAnswers(cfg)) {
    return ours
      ? { name: 'redis', state: 'running', detail: `pid ${ours}, ${cfg.redisUrl}` }
      : { name: 'redis', state: 'external', detail: `using the Redis already at ${cfg.redisUrl}` };
  }
  const { host, port } = endpoint(cfg);
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) {
    throw new Error(`no Redis answers at ${cfg.redisUrl}, and a local one can only be started on 127.0.0.1`);
  }
  ensureRedisServer(log);
  fs.mkdirSync(p.root, { recursive: true });
  log(`starting redis-server on ${host}:${port}, log ${p.proc.logFile}`);
  startDetached(
    p.proc,
    'redis-server',
    [
      '--bind',
      host,
      '--port',
      String(port),
      // Job queues live here: an append-only file lets a restarted Redis keep them.
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--dir',
      p.root,
      '--daemonize',
      'no',
    ],
    p.root,
  );
  try {
    await waitFor(
      'Redis',
      () => redisAnswers(cfg),
      20_000,
      () => runningPid(p.proc) === undefined,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last lines of ${p.proc.logFile}:\n${tail(p.proc.logFile)}`);
  }
  return { name: 'redis', state: 'started', detail: `pid ${runningPid(p.proc)}, ${cfg.redisUrl}` };
}

export async function redisDown(cfg: RedisServiceConfig): Promise<ServiceState> {
  const stopped = await stopManaged(paths(cfg).proc, 10_000);
  return { name: 'redis', state: stopped ? 'stopped' : 'not started by tidewater', detail: '' };
}

export async function redisStatus(cfg: RedisServiceConfig): Promise<ServiceState> {
  const ours = runningPid(paths(cfg).proc);
  const answers = await redisAnswers(cfg);
  if (answers) return { name: 'redis', state: ours ? 'running' : 'external', detail: cfg.redisUrl };
  return { name: 'redis', state: ours ? 'starting or unhealthy' : 'down', detail: cfg.redisUrl };
}
