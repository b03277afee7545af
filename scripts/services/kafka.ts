import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../config/index.ts';
import { createKafka, isListening, parseHostPort } from '../../kafka/index.ts';
import { run } from './commands.ts';
import { ensureMavenJars } from './maven.ts';
import { type ManagedProcess, runningPid, startDetached, stopManaged, tail, waitFor } from './processes.ts';
import type { ServiceState } from './types.ts';

const KAFKA_VERSION = '3.9.1';
const POM = path.resolve(import.meta.dirname, '../../infra/kafka/pom.xml');
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

type KafkaServiceConfig = Pick<Config, 'kafkaBrokers' | 'kafkaClientId' | 'stateDir' | 'kafkaHeapMb'>;

function paths(cfg: KafkaServiceConfig) {
  const root = path.resolve(cfg.stateDir, 'kafka');
  return {
    root,
    lib: path.join(root, `lib-${KAFKA_VERSION}`),
    data: path.join(root, 'data'),
    properties: path.join(root, 'server.properties'),
    log4j: path.join(root, 'log4j.properties'),
    proc: {
      name: 'kafka',
      pidFile: path.join(root, 'kafka.pid'),
      logFile: path.join(root, 'kafka.log'),
      signature: 'kafka.Kafka',
    } satisfies ManagedProcess,
  };
}

/** Whether a broker at `brokers` answers a metadata request. */
export async function brokerAnswers(cfg: Pick<Config, 'kafkaBrokers' | 'kafkaClientId'>): Promise<boolean> {
  const first = cfg.kafkaBrokers[0];
  if (first === undefined) return false;
  const { host, port } = parseHostPort(first);
  if (!(await isListening(host, port))) return false;
  const admin = createKafka({ ...cfg, logLevel: 'silent' }, 'services').admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

function javaMajorVersion(): number | undefined {
  const r = spawnSync('java', ['-version'], { encoding: 'utf8' });
  const m = /version "(\d+)(?:\.(\d+))?/.exec(`${r.stderr}${r.stdout}`);
  if (!m?.[1]) return undefined;
  return m[1] === '1' ? Number(m[2]) : Number(m[1]);
}

/** Gathers the broker classpath from Maven Central once; later starts reuse the cached jars. */
function ensureJars(lib: string, log: (s: string) => void): void {
  ensureMavenJars(
    POM,
    lib,
    `the Apache Kafka ${KAFKA_VERSION} jars`,
    log,
    ' or point KAFKA_BROKERS at a running broker',
  );
}

function writeConfig(p: ReturnType<typeof paths>, host: string, port: number): void {
  const controllerPort = port + 1;
  fs.writeFileSync(
    p.properties,
    [
      '# Written by `tidewater services up`: a single-node KRaft broker for local use.',
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@${host}:${controllerPort}`,
      `listeners=PLAINTEXT://${host}:${port},CONTROLLER://${host}:${controllerPort}`,
      `advertised.listeners=PLAINTEXT://${host}:${port}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      `log.dirs=${p.data}`,
      'num.partitions=1',
      'auto.create.topics.enable=false',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=10',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      'num.network.threads=2',
      'num.io.threads=4',
      '',
    ].join('\n'),
  );
  fs.writeFileSync(
    p.log4j,
    [
      'log4j.rootLogger=INFO, stdout',
      'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
      'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
      'log4j.logger.kafka.log=WARN',
      'log4j.logger.org.apache.kafka.storage=WARN',
      'log4j.logger.kafka.coordinator=WARN',
      'log4j.logger.state.change.logger=WARN',
      '',
    ].join('\n'),
  );
}

export async function kafkaUp(cfg: KafkaServiceConfig, log: (s: string) => void): Promise<ServiceState> {
  const p = paths(cfg);
  const brokers = cfg.kafkaBrokers.join(',');
  const ours = runningPid(p.proc);
  if (await brokerAnswers(cfg)) {
    return ours
      ? { name: 'kafka', state: 'running', detail: `pid ${ours}, ${brokers}` }
      : { name: 'kafka', state: 'external', detail: `using the broker already at ${brokers}` };
  }
  if (ours !== undefined) {
    await stopManaged(p.proc, 10_000);
  }
  const { host, port } = parseHostPort(cfg.kafkaBrokers[0] ?? '');
  if (!LOCAL_HOSTS.has(host)) {
    throw new Error(
      `no Kafka broker answers at ${brokers}, and a local one can only be started on 127.0.0.1`,
    );
  }
  for (const taken of [port, port + 1]) {
    if (await isListening(host, taken)) {
      throw new Error(
        `port ${taken} on ${host} is taken by something that is not a Kafka broker; free it or set KAFKA_BROKERS`,
      );
    }
  }
  const java = javaMajorVersion();
  if (java === undefined)
    throw new Error(
      'Java is needed to run the local Kafka broker: install a JDK 17 (apt-get install openjdk-17-jre-headless)',
    );
  if (java < 17) throw new Error(`Java ${java} found; the local Kafka broker needs Java 17 or newer`);

  fs.mkdirSync(p.root, { recursive: true });
  ensureJars(p.lib, log);
  writeConfig(p, host, port);
  const classpath = `${p.lib}/*`;
  if (!fs.existsSync(path.join(p.data, 'meta.properties'))) {
    const uuid = spawnSync('java', ['-cp', classpath, 'kafka.tools.StorageTool', 'random-uuid'], {
      encoding: 'utf8',
    });
    const clusterId = uuid.stdout.trim().split('\n').pop()?.trim();
    if (uuid.status !== 0 || !clusterId) throw new Error(`kafka-storage random-uuid failed: ${uuid.stderr}`);
    run(
      'java',
      [
        '-cp',
        classpath,
        `-Dlog4j.configuration=file:${p.log4j}`,
        'kafka.tools.StorageTool',
        'format',
        '-t',
        clusterId,
        '-c',
        p.properties,
      ],
      'formatting the broker storage failed',
    );
  }
  log(`starting Kafka ${KAFKA_VERSION} (KRaft) on ${host}:${port}, log ${p.proc.logFile}`);
  const heap = `${cfg.kafkaHeapMb}m`;
  startDetached(
    p.proc,
    'java',
    [
      `-Xms${heap}`,
      `-Xmx${heap}`,
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-Djava.awt.headless=true',
      `-Dlog4j.configuration=file:${p.log4j}`,
      '-cp',
      classpath,
      'kafka.Kafka',
      p.properties,
    ],
    p.root,
  );
  try {
    await waitFor(
      'Kafka',
      () => brokerAnswers(cfg),
      90_000,
      () => runningPid(p.proc) === undefined,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last lines of ${p.proc.logFile}:\n${tail(p.proc.logFile)}`);
  }
  return { name: 'kafka', state: 'started', detail: `pid ${runningPid(p.proc)}, ${brokers}` };
}

export async function kafkaDown(cfg: KafkaServiceConfig): Promise<ServiceState> {
  const stopped = await stopManaged(paths(cfg).proc);
  return { name: 'kafka', state: stopped ? 'stopped' : 'not started by tidewater', detail: '' };
}

export async function kafkaStatus(cfg: KafkaServiceConfig): Promise<ServiceState> {
  const ours = runningPid(paths(cfg).proc);
  const answers = await brokerAnswers(cfg);
  const brokers = cfg.kafkaBrokers.join(',');
  if (answers)
    return {
      name: 'kafka',
      state: ours ? 'running' : 'external',
      detail: ours ? `pid ${ours}, ${brokers}` : brokers,
    };
  return { name: 'kafka', state: ours ? 'starting or unhealthy' : 'down', detail: brokers };
}
