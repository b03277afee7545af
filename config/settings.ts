import cron from 'node-cron';
import { z } from 'zod';

/**
 * Every setting the platform reads, declared once: its environment variable, its schema with the
 * default, and the sentence the README and `.env.example` show. `loadConfig` parses this table, and
 * the docs are generated from it, so a setting cannot exist in code without being documented.
 */
export interface Setting<T extends z.ZodType = z.ZodType> {
  env: string;
  schema: T;
  doc: string;
  /** A default computed from the settings declared before this one, with how the docs show it. */
  derive?: { from: (earlier: Readonly<Record<string, unknown>>) => z.output<T>; doc: string };
}

const setting = <T extends z.ZodType>(env: string, schema: T, doc: string): Setting<T> => ({
  env,
  schema,
  doc,
});

/** A setting whose default derives from earlier ones (e.g. a consumer group from its topic). */
const derivedSetting = <T extends z.ZodType>(
  env: string,
  schema: T,
  doc: string,
  derive: { from: (earlier: Readonly<Record<string, unknown>>) => NonNullable<z.output<T>>; doc: string },
): Setting<T> & { derive: object } => ({ env, schema, doc, derive });

/**
 * A Kafka consumer group's name, by default the role's prefix and the topic it reads, so that two
 * platforms reading different topics on one broker never share a group.
 */
const consumerGroup = (
  env: string,
  role: string,
  topicSetting: 'eventsTopic' | 'quarantineTopic',
  doc: string,
) =>
  derivedSetting(env, z.string().min(1).optional(), doc, {
    from: (earlier) => `tidewater-${role}.${String(earlier[topicSetting])}`,
    doc: `tidewater-${role}.<${topicSetting === 'eventsTopic' ? 'TIDEWATER_EVENTS_TOPIC' : 'TIDEWATER_QUARANTINE_TOPIC'}>`,
  });

const positiveInt = z.coerce.number().int().positive();
const flag = (byDefault: '0' | '1') =>
  z
    .enum(['0', '1', 'true', 'false', 'yes', 'no'])
    .default(byDefault)
    .transform((v) => v === '1' || v === 'true' || v === 'yes');
const brokerList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().regex(/^[^:\s]+:\d{1,5}$/, 'expected host:port')).min(1));
const redisUrl = z
  .string()
  .url()
  .refine((u) => /^rediss?:\/\//.test(u), 'expected a redis:// or rediss:// URL');
const optionalUrl = z.preprocess((v) => (v === '' ? undefined : v), z.string().url().optional());
/** A cron expression (5 fields, or 6 with seconds), or `off`. */
const cronOrOff = (byDefault: string) =>
  z
    .string()
    .default(byDefault)
    .refine((v) => v === 'off' || cron.validate(v), 'expected a cron expression or off');

export const settings = {
  kafkaBrokers: setting(
    'KAFKA_BROKERS',
    brokerList.default(['127.0.0.1:9092']),
    'Comma-separated Kafka bootstrap brokers (host:port). `services up` starts a local broker only when none answers here.',
  ),
  kafkaClientId: setting(
    'KAFKA_CLIENT_ID',
    z.string().min(1).default('tidewater'),
    'Kafka client id prefix.',
  ),
  eventsTopic: setting(
    'TIDEWATER_EVENTS_TOPIC',
    z.string().min(1).default('events'),
    'Topic of accepted and incoming events.',
  ),
  quarantineTopic: setting(
    'TIDEWATER_QUARANTINE_TOPIC',
    z.string().min(1).default('events.quarantine'),
    'Topic that receives every rejected record with its reasons.',
  ),
  eventsPartitions: setting(
    'TIDEWATER_EVENTS_PARTITIONS',
    positiveInt.max(1024).default(6),
    'Partitions of the events topic when the platform creates it (events are keyed by user, so a user stays in one partition). The platform never adds partitions to an existing topic; `start` warns when its count differs.',
  ),
  speedGroup: consumerGroup(
    'TIDEWATER_SPEED_GROUP',
    'speed',
    'eventsTopic',
    'Kafka consumer group of the speed layer (Kafka -> gate -> ClickHouse). Checked at start: a group that serves another topic on the broker is refused.',
  ),
  speedGateThreads: setting(
    'TIDEWATER_SPEED_GATE_THREADS',
    z.preprocess(
      (v) => (v === '' || v === undefined ? undefined : Number(v)),
      z.number().int().min(0).max(16).optional(),
    ),
    'Worker threads in which the speed layer gates and encodes records, leaving its event loop to Kafka and ClickHouse (0: on the event loop). Unset: 1 when the speed layer has its process to itself, 0 when it shares it with other roles (the all-in-one platform), whose other components already keep both cores busy and whose memory has no room for more JS heaps (about 250 MB each).',
  ),
  verdictMemoryRecords: setting(
    'TIDEWATER_VERDICT_MEMORY_RECORDS',
    positiveInt.default(1_000_000),
    "With both layers in one process, the lake writer takes the speed gate's verdicts rather than judging each event again: how many records' verdicts are held in memory, the newest, at ~34 bytes a record (1,000,000: ~34 MB, 20 s at 50,000 events/s). Older ones go to TIDEWATER_VERDICT_SPILL_MB.",
  ),
  verdictSpillMb: setting(
    'TIDEWATER_VERDICT_SPILL_MB',
    z.coerce.number().int().min(0).default(1024),
    "With both layers in one process, the lake writer takes the speed gate's verdicts rather than judging each event again. The newest TIDEWATER_VERDICT_MEMORY_RECORDS records' verdicts are held in memory; older ones, while the lake writer is further behind (under load, or catching up), go to files in TIDEWATER_DATA_DIR/verdicts, unlinked as they are opened, at ~34 bytes a record, up to this many MiB (1024: ~30M records, 10 minutes at 50,000 events/s). Past that the lake writer gates the oldest ranges itself, at about twice the CPU (0: no files).",
  ),
  dimensionsRefreshSeconds: setting(
    'TIDEWATER_DIMENSIONS_REFRESH_SECONDS',
    z.coerce.number().int().min(0).default(60),
    'How often a process looks for changed dimension files and, when they changed, hands them to every gate it runs (speed layer, lake writer, HTTP ingest), which gate and enrich with them from their next range on (0: only at start).',
  ),
  lakeGroup: consumerGroup(
    'TIDEWATER_LAKE_GROUP',
    'lake',
    'eventsTopic',
    "Kafka consumer group of the lake writer (Kafka -> gate -> Parquet + Delta log), also naming the transactional ids of its quarantine producers (`<group>.quarantine.<partition>`). Checked at start like the speed layer's.",
  ),
  quarantineGroup: consumerGroup(
    'TIDEWATER_QUARANTINE_GROUP',
    'quarantine',
    'quarantineTopic',
    "Kafka consumer group of the quarantine table writer (quarantine topic -> the quarantine Delta table). Checked at start like the speed layer's.",
  ),
  lakeCommitMb: setting(
    'TIDEWATER_LAKE_COMMIT_MB',
    positiveInt.default(64),
    'The lake writer commits once the Parquet it has staged reaches this many MiB, or at TIDEWATER_LAKE_COMMIT_SECONDS, whichever comes first: fewer, larger files and log entries than a commit per Kafka fetch.',
  ),
  lakeCommitSeconds: setting(
    'TIDEWATER_LAKE_COMMIT_SECONDS',
    z.coerce.number().positive().max(3600).default(60),
    'Longest a range the lake writer has staged waits for its commit (and its Kafka offsets and rejections with it): how far the lake trails Kafka at low rates.',
  ),
  quarantineCommitSeconds: setting(
    'TIDEWATER_QUARANTINE_COMMIT_SECONDS',
    z.coerce.number().positive().max(3600).default(10),
    'Longest a rejection the quarantine table writer has staged waits for its commit (it also commits at TIDEWATER_LAKE_COMMIT_MB): how long after its publication a rejected record can be inspected. Rejections are few, so commits are too: at most one per this many seconds.',
  ),
  redisUrl: setting(
    'REDIS_URL',
    redisUrl.default('redis://127.0.0.1:6379'),
    'Redis for queues, caches and rate limits.',
  ),
  apiHost: setting(
    'TIDEWATER_API_HOST',
    z.string().min(1).default('127.0.0.1'),
    'Address the API (REST, SQL endpoint, live push, dashboard) listens on; 0.0.0.0 for every interface.',
  ),
  apiPort: setting(
    'TIDEWATER_API_PORT',
    z.coerce.number().int().min(0).max(65535).default(8080),
    'Port of the API (0: any free port).',
  ),
  clickhouseHttpPort: setting(
    'TIDEWATER_CLICKHOUSE_HTTP_PORT',
    z
      .union([z.literal('off'), z.coerce.number().int().min(0).max(65535)])
      .default(8123)
      .transform((v) => (v === 'off' ? undefined : v)),
    'Port of the ClickHouse-compatible HTTP interface for BI tools (Grafana, Metabase, Superset, DBeaver; 0: any free port, off: none). It listens where the API does; the password is an API key.',
  ),
  sqlTimeoutSeconds: setting(
    'TIDEWATER_SQL_TIMEOUT_SECONDS',
    positiveInt.default(10),
    'Longest a statement of the SQL endpoint may run before it is stopped (504).',
  ),
  sqlMaxRows: setting(
    'TIDEWATER_SQL_MAX_ROWS',
    positiveInt.default(250_000),
    'Most rows one answer of the SQL endpoint or the metrics API returns (a week of minutes by region is 120,960); larger answers are cut and say so.',
  ),
  sqlMaxBytes: setting(
    'TIDEWATER_SQL_MAX_BYTES',
    positiveInt.default(64 << 20),
    "Most bytes of one SQL answer (counted in the engine's JSON rows); larger answers are cut at a row and say so.",
  ),
  sqlMaxMemoryMb: setting(
    'TIDEWATER_SQL_MAX_MEMORY_MB',
    positiveInt.default(1024),
    'Most memory one engine call for an SQL statement may use, in MiB (past it: 400 sql_too_expensive).',
  ),
  sqlMaxThreads: setting(
    'TIDEWATER_SQL_MAX_THREADS',
    positiveInt.max(64).default(1),
    'Threads one SQL statement may use in the engine, leaving the other cores to ingest and the metrics API.',
  ),
  sqlSessions: setting(
    'TIDEWATER_SQL_SESSIONS',
    positiveInt.max(64).default(2),
    'SQL statements that run at once, each in a read-only engine session of its own; more wait for a free one (503 sql_busy past the time-out).',
  ),
  sqlCacheMs: setting(
    'TIDEWATER_SQL_CACHE_MS',
    z.coerce.number().int().min(0).max(60_000).default(1_000),
    'Longest identical SQL statements (the same text, parameters, format and limits) share one answer; shared only until the next speed-layer commit or boundary move, and never without Redis (0: never share).',
  ),
  sqlDatabase: setting(
    'TIDEWATER_SQL_DATABASE',
    z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a plain identifier')
      .default('tidewater'),
    'ClickHouse database that holds one merged view per metric, the only tables SQL statements read; nothing else may live there.',
  ),
  sqlClickhouseUrl: setting(
    'TIDEWATER_SQL_CLICKHOUSE_URL',
    optionalUrl,
    'With CLICKHOUSE_URL: the URL of a read-only ClickHouse user (profile with readonly = 1 and limits, docs/serving.md) that SQL statements run as. Without it the SQL endpoint is off on a server.',
  ),
  clickhouseUrl: setting(
    'CLICKHOUSE_URL',
    optionalUrl,
    'ClickHouse server URL (e.g. http://default:tidewater@127.0.0.1:18123, the server of docker-compose.yml). Unset: embedded chDB in TIDEWATER_DATA_DIR.',
  ),
  dataDir: setting(
    'TIDEWATER_DATA_DIR',
    z.string().min(1).default('.local/data'),
    'Root of local platform data: the lake, embedded ClickHouse, dimensions.',
  ),
  stateDir: setting(
    'TIDEWATER_STATE_DIR',
    z.string().min(1).default('.local/services'),
    'Where `services up` keeps the Kafka jars, broker storage, pid files and logs.',
  ),
  kafkaHeapMb: setting(
    'KAFKA_HEAP_MB',
    positiveInt.default(768),
    'Java heap of the local Kafka broker, in MiB.',
  ),
  cdcDatabaseUrl: setting(
    'TIDEWATER_CDC_DATABASE_URL',
    z.preprocess(
      (v) => (v === '' ? undefined : v),
      z
        .string()
        .url()
        .refine((u) => /^postgres(ql)?:\/\//.test(u), 'expected a postgres:// URL')
        .default('postgres://postgres@127.0.0.1:5432/tidewater'),
    ),
    'PostgreSQL database whose inventory table change data capture reads (the user needs the REPLICATION attribute). `services up` sets it up when something answers there: logical WAL (a local server is restarted once for it), the table, its replica identity and the publication; it creates the database when it is absent.',
  ),
  cdcTable: setting(
    'TIDEWATER_CDC_TABLE',
    z
      .string()
      .regex(/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/, 'expected schema.table in lower case')
      .default('public.inventory'),
    'The captured table (schema.table): location_id, product_id, on_hand, updated_at, primary key (location_id, product_id).',
  ),
  cdcPublication: setting(
    'TIDEWATER_CDC_PUBLICATION',
    z
      .string()
      .regex(/^[a-z_][a-z0-9_]*$/, 'expected a lower-case identifier')
      .default('tidewater_inventory'),
    'PostgreSQL publication of the captured table, created by `services up` (pgoutput reads it).',
  ),
  cdcSlot: setting(
    'TIDEWATER_CDC_SLOT',
    z
      .string()
      .regex(/^[a-z_][a-z0-9_]*$/, 'expected a lower-case identifier')
      .default('tidewater_inventory'),
    'Logical replication slot of the connector: PostgreSQL keeps the WAL it has not confirmed, so the changes made while the connector is down are read when it is back.',
  ),
  cdcConnector: setting(
    'TIDEWATER_CDC_CONNECTOR',
    z
      .string()
      .regex(/^[\w.-]+$/, 'letters, digits, dot, dash, underscore')
      .default('tidewater-inventory'),
    'Name of the Debezium connector in the local Kafka Connect worker, and the prefix of its topic (`<name>.<schema>.<table>`).',
  ),
  cdcConnectPort: setting(
    'TIDEWATER_CDC_CONNECT_PORT',
    z.coerce.number().int().min(1).max(65535).default(8083),
    'Port of the REST interface of the local Kafka Connect worker that runs the CDC connector (127.0.0.1 only).',
  ),
  cdcConnectHeapMb: setting(
    'TIDEWATER_CDC_CONNECT_HEAP_MB',
    positiveInt.default(384),
    'Java heap of the local Kafka Connect worker, in MiB.',
  ),
  cdcGroup: derivedSetting(
    'TIDEWATER_CDC_GROUP',
    z.string().min(1).optional(),
    'Kafka consumer group of the CDC bridge (change events -> `inventory.update` events on the events topic).',
    {
      from: (earlier) => `tidewater-cdc.${String(earlier.cdcConnector)}.${String(earlier.eventsTopic)}`,
      doc: 'tidewater-cdc.<TIDEWATER_CDC_CONNECTOR>.<TIDEWATER_EVENTS_TOPIC>',
    },
  ),
  seed: setting(
    'TIDEWATER_SEED',
    z.coerce.number().int().nonnegative().default(42),
    'Seed of the dimensions and demo traffic.',
  ),
  demo: setting(
    'TIDEWATER_DEMO',
    flag('1'),
    '`npm start` feeds demo traffic from the generator unless this is 0.',
  ),
  demoRate: setting(
    'TIDEWATER_DEMO_RATE',
    positiveInt.default(200),
    'Events per second of the demo traffic.',
  ),
  allowedLatenessMinutes: setting(
    'TIDEWATER_ALLOWED_LATENESS_MINUTES',
    z.coerce.number().int().nonnegative().default(15),
    'Events older than this (event time vs. arrival) are flagged late; the batch layer still counts them.',
  ),
  queuePrefix: setting(
    'TIDEWATER_QUEUE_PREFIX',
    z
      .string()
      .regex(/^[\w.-]+$/, 'letters, digits, dot, dash, underscore')
      .default('tidewater'),
    'Redis key prefix of the job queues (bullmq), API keys, rate limits, the query cache and the live channel, so that several platforms can share one Redis.',
  ),
  workerConcurrency: setting(
    'TIDEWATER_WORKER_CONCURRENCY',
    positiveInt.max(64).default(1),
    'Jobs one worker process runs at a time per queue (recompute and backfill always run one at a time per process).',
  ),
  jobNice: setting(
    'TIDEWATER_JOB_NICE',
    z.coerce.number().int().min(0).max(19).default(10),
    "How much lower than the platform's the CPU priority of a job's engine work is (a nice increment, 0-19). Compaction, vacuum, checkpoints and the batch recompute's DuckDB scans run in a child process at that priority, so that ingestion keeps the cores when the machine is short of them; 0 runs them at the platform's priority.",
  ),
  jobAttempts: setting(
    'TIDEWATER_JOB_ATTEMPTS',
    positiveInt.max(100).default(3),
    'Attempts of a job before it fails, with exponential backoff from 10 s between them.',
  ),
  recomputeCron: setting(
    'TIDEWATER_RECOMPUTE_CRON',
    cronOrOff('20 * * * *'),
    'When the scheduler enqueues the recompute of the hours closed by then (UTC cron, or off); keep it past the allowed lateness.',
  ),
  optimizeCron: setting(
    'TIDEWATER_OPTIMIZE_CRON',
    cronOrOff('*/15 * * * *'),
    "When the scheduler enqueues lake compaction (UTC cron, or off): each partition's files under 96 MiB packed into files of up to 128 MiB, one commit that changes no row.",
  ),
  vacuumCron: setting(
    'TIDEWATER_VACUUM_CRON',
    cronOrOff('30 2 * * *'),
    'When the scheduler enqueues lake vacuum (UTC cron, or off).',
  ),
  vacuumRetentionHours: setting(
    'TIDEWATER_VACUUM_RETENTION_HOURS',
    z.coerce.number().nonnegative().default(168),
    'Scheduled vacuum keeps lake files any version of this many past hours references (time travel reach), and batch versions for this long after newer ones replaced every day they cover (rollback reach).',
  ),
  lakeLogRetentionHours: setting(
    'TIDEWATER_LAKE_LOG_RETENTION_HOURS',
    z.coerce.number().nonnegative().default(720),
    "Vacuum also deletes each lake table's log (commits and checkpoints) older than this many hours, as Delta's delta.logRetentionDuration (30 days) does; time travel reaches no further back.",
  ),
  vacuumOrphanMinutes: setting(
    'TIDEWATER_VACUUM_ORPHAN_MINUTES',
    z.coerce.number().positive().default(60),
    'Vacuum deletes data files that no version ever referenced (left by a writer killed before its commit) once they are this old, whatever the retention; keep it well above TIDEWATER_LAKE_COMMIT_SECONDS.',
  ),
  reportCron: setting(
    'TIDEWATER_REPORT_CRON',
    cronOrOff('10 0 * * *'),
    "When the scheduler enqueues the previous UTC day's validation report (UTC cron, or off).",
  ),
  correctionCron: setting(
    'TIDEWATER_CORRECTION_CRON',
    cronOrOff('* * * * *'),
    "When the scheduler enqueues the correction scan (UTC cron, or off): it reads the lake's new commits, records the hours below the watermark that got late events, and enqueues one backfill per affected day at the lake's newest version.",
  ),
  correctionDelaySeconds: setting(
    'TIDEWATER_CORRECTION_DELAY_SECONDS',
    z.coerce.number().int().nonnegative().default(300),
    "A day's correction is enqueued once its oldest uncorrected late commit was noticed this long ago, so that late events arriving meanwhile join the same job: a correction recomputes and reloads the whole day, and with embedded ClickHouse the speed layer's inserts wait behind its load. Within the speed view's retention late events are answered meanwhile.",
  ),
  speedRetentionHours: setting(
    'TIDEWATER_SPEED_RETENTION_HOURS',
    positiveInt.default(168),
    'How far back the serving layer answers hours below the watermark from the speed view when it holds accepted events the batch view lacks (late events); older late events are visible once their correction job committed. Keep it within what the speed view keeps.',
  ),
  auth: setting(
    'TIDEWATER_AUTH',
    flag('1'),
    'The API asks for a key (`tidewater keys create`); 0 opens every route and listens on 127.0.0.1 only, whatever TIDEWATER_API_HOST says, for a local demo. With auth on and no key yet, the server creates an admin key and prints it once.',
  ),
  ingestMaxBytes: setting(
    'TIDEWATER_INGEST_MAX_BYTES',
    positiveInt.default(8 * 1024 * 1024),
    'Largest body POST /v1/events takes (413 past it).',
  ),
  ingestTimeoutMs: setting(
    'TIDEWATER_INGEST_TIMEOUT_MS',
    positiveInt.default(10_000),
    'How long POST /v1/events waits for Kafka to acknowledge before answering 503 with Retry-After.',
  ),
  rateLimitPerMinute: setting(
    'TIDEWATER_RATE_LIMIT_PER_MINUTE',
    z.coerce.number().int().nonnegative().default(6000),
    'Requests per API key per minute, counted in Redis across API instances (0: no limit).',
  ),
  liveMaxRate: setting(
    'TIDEWATER_LIVE_MAX_RATE',
    z.coerce.number().positive().max(100).default(4),
    'Most updates per second one live subscription (GET /v1/live) receives.',
  ),
  queryCacheTtlSeconds: setting(
    'TIDEWATER_QUERY_CACHE_TTL_SECONDS',
    z.coerce.number().int().nonnegative().default(300),
    'Lifetime of a cached metrics answer in Redis (0: no cache); keys carry the boundary and speed commit state, so this only bounds memory.',
  ),
  logLevel: setting(
    'LOG_LEVEL',
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    'Log level. Kafka client lines are one line each: a consumer group re-balancing (every start) is info, the broker answers behind it debug; error is kept for what needs a person.',
  ),
} satisfies Record<string, Setting>;

export type Settings = typeof settings;
export type Config = {
  readonly [K in keyof Settings]: Settings[K] extends { derive: object }
    ? NonNullable<z.output<Settings[K]['schema']>>
    : z.output<Settings[K]['schema']>;
};

/** Settings that must differ from one another, with why. */
export const DISTINCT_SETTINGS: readonly { keys: readonly (keyof Settings)[]; why: string }[] = [
  {
    keys: ['speedGroup', 'lakeGroup', 'quarantineGroup', 'cdcGroup'],
    why: 'each consumer of the platform needs a group of its own: a shared group splits the partitions between them',
  },
];
