// Change data capture for local use: a Kafka Connect worker (standalone, the broker's Kafka version)
// running Debezium's PostgreSQL connector on the table of TIDEWATER_CDC_TABLE. The worker keeps its
// source offsets in a file of the state dir, and PostgreSQL keeps the WAL its slot has not
// confirmed, so a worker killed and started again goes on where it stopped.
import fs from 'node:fs';
import path from 'node:path';
import { cdcTopic } from '../../cdc/index.ts';
import type { Config } from '../../config/index.ts';
import { createKafka, ensureTopics, isListening } from '../../kafka/index.ts';
import { ensureMavenJars } from './maven.ts';
import { databaseOf, type PostgresCdcConfig, postgresAnswers, preparePostgresCdc } from './postgres.ts';
import { type ManagedProcess, runningPid, startDetached, stopManaged, tail, waitFor } from './processes.ts';
import type { ServiceState } from './types.ts';

const DEBEZIUM_VERSION = '3.6.1.Final';
const POM = path.resolve(import.meta.dirname, '../../infra/cdc/pom.xml');

export type CdcServiceConfig = PostgresCdcConfig &
  Pick<
    Config,
    | 'kafkaBrokers'
    | 'kafkaClientId'
    | 'logLevel'
    | 'stateDir'
    | 'cdcSlot'
    | 'cdcConnector'
    | 'cdcConnectPort'
    | 'cdcConnectHeapMb'
  >;

function paths(cfg: Pick<Config, 'stateDir'>) {
  const root = path.resolve(cfg.stateDir, 'cdc');
  return {
    root,
    lib: path.join(root, `lib-${DEBEZIUM_VERSION}`),
    worker: path.join(root, 'worker.properties'),
    connector: path.join(root, 'connector.properties'),
    offsets: path.join(root, 'offsets.dat'),
    log4j: path.join(root, 'log4j.properties'),
    proc: {
      name: 'cdc',
      pidFile: path.join(root, 'connect.pid'),
      logFile: path.join(root, 'connect.log'),
      signature: 'tidewater.service=cdc',
    } satisfies ManagedProcess,
  };
}

const properties = (entries: Record<string, string | number>) =>
  `# Written by \`tidewater services up\`.\n${Object.entries(entries)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;

function writeConfig(p: ReturnType<typeof paths>, cfg: CdcServiceConfig): void {
  const db = databaseOf(cfg.cdcDatabaseUrl);
  fs.writeFileSync(
    p.worker,
    properties({
      'bootstrap.servers': cfg.kafkaBrokers.join(','),
      'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
      'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
      'key.converter.schemas.enable': 'false',
      'value.converter.schemas.enable': 'false',
      'offset.storage.file.filename': p.offsets,
      // A killed worker re-reads from its last flushed offset: flushing often keeps that short.
      'offset.flush.interval.ms': 1000,
      listeners: `http://127.0.0.1:${cfg.cdcConnectPort}`,
    }),
  );
  fs.writeFileSync(
    p.connector,
    properties({
      name: cfg.cdcConnector,
      'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
      'tasks.max': 1,
      'plugin.name': 'pgoutput',
      'database.hostname': db.host,
      'database.port': db.port,
      'database.user': db.user,
      'database.password': db.password,
      'database.dbname': db.database,
      'topic.prefix': cfg.cdcConnector,
      'table.include.list': cfg.cdcTable,
      'slot.name': cfg.cdcSlot,
      'publication.name': cfg.cdcPublication,
      'publication.autocreate.mode': 'disabled',
      'snapshot.mode': 'initial',
      // A connector records its position only with a record it sends: on a quiet table nothing was
      // recorded, and a worker killed within a second of its first changes found no offset when it
      // started again and took the initial snapshot anew, sending every row once more under new
      // eventIds (CI saw a row counted twice). Heartbeats record the position every second, table
      // changes or not (and let PostgreSQL free the WAL of a quiet table).
      'heartbeat.interval.ms': 1000,
      'tombstones.on.delete': 'false',
      'decimal.handling.mode': 'string',
    }),
  );
  fs.writeFileSync(
    p.log4j,
    [
      'log4j.rootLogger=INFO, stdout',
      'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
      'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
      'log4j.logger.org.apache.kafka.clients=WARN',
      '',
    ].join('\n'),
  );
}

/** Debezium's heartbeat topic (`topic.heartbeat.prefix` `__debezium-heartbeat`, then the topic prefix). */
const heartbeatTopic = (cfg: Pick<Config, 'cdcConnector'>) => `__debezium-heartbeat.${cfg.cdcConnector}`;

/** Whether the worker's offset file holds a position of the connector (a Java-serialized map). */
function positionRecorded(offsets: string, connector: string): boolean {
  try {
    return fs.readFileSync(offsets).includes(connector);
  } catch {
    return false;
  }
}

interface ConnectorStatus {
  connector?: { state?: string };
  tasks?: { state?: string; trace?: string }[];
}

async function connectorStatus(cfg: CdcServiceConfig): Promise<ConnectorStatus | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${cfg.cdcConnectPort}/connectors/${cfg.cdcConnector}/status`, {
      signal: AbortSignal.timeout(2_000),
    });
    return res.ok ? ((await res.json()) as ConnectorStatus) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the connector and its task run in the worker at the configured port. */
export async function connectorRuns(cfg: CdcServiceConfig): Promise<boolean> {
  const status = await connectorStatus(cfg);
  return status?.connector?.state === 'RUNNING' && status.tasks?.[0]?.state === 'RUNNING';
}

/** The worker's pid when `services up` started it and it still runs. */
export const cdcWorkerPid = (cfg: Pick<Config, 'stateDir'>): number | undefined =>
  runningPid(paths(cfg).proc);

export async function cdcUp(cfg: CdcServiceConfig, log: (line: string) => void): Promise<ServiceState> {
  const p = paths(cfg);
  const db = databaseOf(cfg.cdcDatabaseUrl);
  if (!(await postgresAnswers(cfg.cdcDatabaseUrl))) {
    return { name: 'cdc', state: 'off', detail: `no PostgreSQL answers at ${db.host}:${db.port}` };
  }
  await preparePostgresCdc(cfg, log);
  const ours = runningPid(p.proc);
  if (ours !== undefined && (await connectorRuns(cfg))) {
    return { name: 'cdc', state: 'running', detail: `pid ${ours}, connector ${cfg.cdcConnector}` };
  }
  if (ours !== undefined) await stopManaged(p.proc, 10_000);
  if (await isListening('127.0.0.1', cfg.cdcConnectPort)) {
    throw new Error(
      `port ${cfg.cdcConnectPort} is taken by something tidewater did not start; free it or set TIDEWATER_CDC_CONNECT_PORT`,
    );
  }
  // The broker refuses to create topics on first use: the connector's topic is made here.
  const admin = createKafka(cfg, 'services').admin();
  await admin.connect();
  try {
    await ensureTopics(admin, [
      { topic: cdcTopic(cfg), numPartitions: 1, replicationFactor: -1 },
      { topic: heartbeatTopic(cfg), numPartitions: 1, replicationFactor: -1 },
    ]);
  } finally {
    await admin.disconnect();
  }
  fs.mkdirSync(p.root, { recursive: true });
  ensureMavenJars(POM, p.lib, `Kafka Connect and Debezium ${DEBEZIUM_VERSION}`, log);
  writeConfig(p, cfg);
  log(
    `starting Kafka Connect with Debezium ${DEBEZIUM_VERSION} on 127.0.0.1:${cfg.cdcConnectPort}, log ${p.proc.logFile}`,
  );
  const heap = `${cfg.cdcConnectHeapMb}m`;
  startDetached(
    p.proc,
    'java',
    [
      `-Xms${heap}`,
      `-Xmx${heap}`,
      '-Djava.awt.headless=true',
      '-Dtidewater.service=cdc',
      `-Dlog4j.configuration=file:${p.log4j}`,
      '-cp',
      `${p.lib}/*`,
      'org.apache.kafka.connect.cli.ConnectStandalone',
      p.worker,
      p.connector,
    ],
    p.root,
  );
  try {
    await waitFor(
      'Kafka Connect',
      () => connectorRuns(cfg),
      120_000,
      () => runningPid(p.proc) === undefined,
    );
  } catch (err) {
    const trace = (await connectorStatus(cfg))?.tasks?.[0]?.trace?.split('\n').slice(0, 5).join('\n') ?? '';
    throw new Error(
      `${(err as Error).message}; ${trace}\nlast lines of ${p.proc.logFile}:\n${tail(p.proc.logFile)}`,
    );
  }
  // Started once its position is recorded: a worker killed from then on resumes, not re-snapshots.
  await waitFor(
    'the connector’s first recorded offset',
    async () => positionRecorded(p.offsets, cfg.cdcConnector),
    60_000,
    () => runningPid(p.proc) === undefined,
  );
  return {
    name: 'cdc',
    state: 'started',
    detail: `pid ${runningPid(p.proc)}, connector ${cfg.cdcConnector}`,
  };
}

export async function cdcDown(cfg: Pick<Config, 'stateDir'>): Promise<ServiceState> {
  const stopped = await stopManaged(paths(cfg).proc);
  return { name: 'cdc', state: stopped ? 'stopped' : 'not started by tidewater', detail: '' };
}

export async function cdcStatus(cfg: CdcServiceConfig): Promise<ServiceState> {
  const ours = runningPid(paths(cfg).proc);
  if (await connectorRuns(cfg))
    return { name: 'cdc', state: ours ? 'running' : 'external', detail: `connector ${cfg.cdcConnector}` };
  return {
    name: 'cdc',
    state: ours ? 'starting or unhealthy' : 'down',
    detail: `connector ${cfg.cdcConnector}`,
  };
}
