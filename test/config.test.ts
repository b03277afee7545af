import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, renderEnvExample, settings } from '../config/index.ts';

describe('configuration', () => {
  it('has a default for everything a local run needs', () => {
    const cfg = loadConfig({});
    expect(cfg.kafkaBrokers).toEqual(['127.0.0.1:9092']);
    expect(cfg.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(cfg.clickhouseUrl).toBeUndefined();
    expect(cfg.eventsTopic).toBe('events');
  });

  it('parses lists, numbers and booleans from the environment', () => {
    const cfg = loadConfig({
      KAFKA_BROKERS: 'a:1, b:2',
      TIDEWATER_EVENTS_PARTITIONS: '12',
      TIDEWATER_DEMO: '0',
    });
    expect(cfg.kafkaBrokers).toEqual(['a:1', 'b:2']);
    expect(cfg.eventsPartitions).toBe(12);
    expect(cfg.demo).toBe(false);
  });

  it('names every bad variable in one error', () => {
    let error: unknown;
    try {
      loadConfig({ KAFKA_BROKERS: 'no-port', REDIS_URL: 'http://x', TIDEWATER_EVENTS_PARTITIONS: '-3' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of ['KAFKA_BROKERS', 'REDIS_URL', 'TIDEWATER_EVENTS_PARTITIONS'])
      expect(message).toContain(name);
    expect((error as ConfigError).problems).toHaveLength(3);
  });

  it('refuses a numeric setting that is not a number of its kind, naming the variable', () => {
    const numeric = Object.values(settings).filter(
      (s) => typeof s.schema.safeParse(undefined).data === 'number',
    );
    expect(numeric.length).toBeGreaterThan(20);
    for (const { env } of numeric)
      for (const value of ['many', '-1'])
        expect(() => loadConfig({ [env]: value }), `${env}=${value}`).toThrow(new RegExp(env));
    // A board of no records could hold no verdict: the lake writer would gate every range again.
    expect(() => loadConfig({ TIDEWATER_VERDICT_MEMORY_RECORDS: '0' })).toThrow(
      /TIDEWATER_VERDICT_MEMORY_RECORDS/,
    );
    expect(loadConfig({ TIDEWATER_VERDICT_MEMORY_RECORDS: '1' }).verdictMemoryRecords).toBe(1);
  });

  it('derives each consumer group from its topic unless set, and refuses two consumers sharing one', () => {
    expect(loadConfig({})).toMatchObject({
      speedGroup: 'tidewater-speed.events',
      lakeGroup: 'tidewater-lake.events',
      quarantineGroup: 'tidewater-quarantine.events.quarantine',
      cdcGroup: 'tidewater-cdc.tidewater-inventory.events',
    });
    const staging = loadConfig({
      TIDEWATER_EVENTS_TOPIC: 'staging.events',
      TIDEWATER_QUARANTINE_TOPIC: 'staging.quarantine',
      TIDEWATER_LAKE_GROUP: 'lake-of-staging',
    });
    expect(staging).toMatchObject({
      speedGroup: 'tidewater-speed.staging.events',
      lakeGroup: 'lake-of-staging',
      quarantineGroup: 'tidewater-quarantine.staging.quarantine',
    });
    expect(() => loadConfig({ TIDEWATER_SPEED_GROUP: 'one', TIDEWATER_QUARANTINE_GROUP: 'one' })).toThrow(
      /TIDEWATER_SPEED_GROUP="one".*TIDEWATER_QUARANTINE_GROUP="one".*: each consumer of the platform needs a group of its own/,
    );
  });

  it('documents every setting: .env.example is generated and the README lists each variable', () => {
    expect(fs.readFileSync('.env.example', 'utf8')).toBe(renderEnvExample());
    const readme = fs.readFileSync('README.md', 'utf8');
    for (const s of Object.values(settings)) expect(readme).toContain(`\`${s.env}\``);
  });
});
