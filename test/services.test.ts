import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.ts';
import {
  brokerAnswers,
  cdcUp,
  redisAnswers,
  servicesDown,
  servicesStatus,
  servicesUp,
} from '../scripts/services/index.ts';

describe('local services', () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidewater-services-'));
  // A Redis of our own on a spare port, so the test proves `up` starts one and `down` stops it,
  // while the broker the suite already runs is only reused.
  const cfg = loadConfig({
    ...process.env,
    REDIS_URL: 'redis://127.0.0.1:6391',
    TIDEWATER_STATE_DIR: stateDir,
    // No PostgreSQL here: change data capture is left off (test/cdc.test.ts runs it).
    TIDEWATER_CDC_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/tidewater',
    TIDEWATER_CDC_CONNECT_PORT: '18391',
  });
  const log: string[] = [];

  afterAll(async () => {
    await servicesDown(cfg);
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it('reuses a broker that already answers and starts what is missing', async () => {
    expect(await brokerAnswers(cfg)).toBe(true);
    expect(await redisAnswers(cfg)).toBe(false);
    const [kafka, redis, cdc] = await servicesUp(cfg, (l) => log.push(l));
    expect(kafka?.state).toBe('external');
    expect(redis?.state).toBe('started');
    expect(cdc).toEqual({ name: 'cdc', state: 'off', detail: 'no PostgreSQL answers at 127.0.0.1:1' });
    expect(await redisAnswers(cfg)).toBe(true);
    expect(fs.existsSync(path.join(stateDir, 'kafka', 'kafka.pid'))).toBe(false);
  });

  it('is idempotent', async () => {
    const [, redis] = await servicesUp(cfg, (l) => log.push(l));
    expect(redis?.state).toBe('running');
    const status = await servicesStatus(cfg);
    expect(status.map((s) => s.state)).toEqual(['external', 'running', 'down']);
  });

  it('stops only what it started', async () => {
    const [kafka, redis, cdc] = await servicesDown(cfg);
    expect(kafka?.state).toBe('not started by tidewater');
    expect(redis?.state).toBe('stopped');
    expect(cdc?.state).toBe('not started by tidewater');
    expect(await redisAnswers(cfg)).toBe(false);
    expect(await brokerAnswers(cfg)).toBe(true);
  });

  it('fails loudly when a PostgreSQL answers but refuses the user, rather than leaving CDC off', async () => {
    const refused = loadConfig({
      ...process.env,
      TIDEWATER_STATE_DIR: stateDir,
      TIDEWATER_CDC_DATABASE_URL: 'postgres://no_such_role@127.0.0.1:5432/tidewater',
    });
    await expect(cdcUp(refused, () => {})).rejects.toThrow(/refused the connection: .*no_such_role/);
  });

  it('refuses to start a broker for a remote address', async () => {
    const remote = loadConfig({
      ...process.env,
      KAFKA_BROKERS: '127.0.0.2:19092',
      TIDEWATER_STATE_DIR: stateDir,
    });
    await expect(servicesUp(remote, () => {})).rejects.toThrow(/only be started on 127.0.0.1/);
  });
});
