// kafkajs's log entries as one readable line each, at the level the event deserves. A consumer
// group's members are told to re-join whenever its membership changes (a member starts, stops or
// times out, so at every start of the platform): kafkajs reports that as ERROR (each failed
// heartbeat or commit answer of the broker, and "the coordinator is not aware of this member")
// or WARN, although the consumer re-joins by itself and nothing needs a person. Those events are
// info (what the consumer does about it) and debug (the broker's answers that told it to);
// ERROR stays for what a person must look at: a broker that cannot be reached, a crash.
import type { LogEntry, logCreator } from 'kafkajs';
import type { Config } from '../config/index.ts';
import { kafkajs, protocolErrors } from './kafkajs.ts';

const { logLevel } = kafkajs;

export type Level = 'error' | 'warn' | 'info' | 'debug' | 'trace';
export type LogSink = (level: Level, line: string) => void;

/** kafkajs's message for each protocol error named; a name kafkajs does not use would never match. */
function messagesOf(types: readonly string[]): Set<string> {
  return new Set(
    types.map((type) => {
      const known = protocolErrors.find((e) => e.type === type);
      if (!known) throw new Error(`kafkajs has no protocol error ${type}: kafka/log.ts names it`);
      return known.message;
    }),
  );
}

/** The broker's error answers that only mean "re-join the group" (or "find the coordinator again"). */
const MEMBERSHIP_ERRORS = messagesOf([
  'REBALANCE_IN_PROGRESS',
  'UNKNOWN_MEMBER_ID',
  'ILLEGAL_GENERATION',
  'MEMBER_ID_REQUIRED',
  'NOT_COORDINATOR_FOR_GROUP',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'GROUP_LOAD_IN_PROGRESS',
]);

/**
 * Answers a transactional producer retries by itself: after a crash the broker aborts the dead
 * producer's open transaction, and until it has, the new one's InitProducerId and AddPartitionsToTxn
 * are answered "concurrent transactions" (kafkajs's own line about it is debug). Should the retries
 * run out, the send fails and its caller's error says so.
 */
const RETRIED_ANSWERS = messagesOf(['CONCURRENT_TRANSACTIONS']);

const RANK: Record<Config['logLevel'], number> = {
  silent: -1,
  fatal: 0,
  error: 0,
  warn: 1,
  info: 2,
  debug: 3,
  trace: 4,
};
const LEVEL_RANK: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 };

/** The least kafkajs must pass on for `level`: membership events arrive as its WARN and ERROR. */
export function kafkajsLevel(level: Config['logLevel']): number {
  const rank = RANK[level];
  if (rank < 0) return logLevel.NOTHING;
  if (rank === 0) return logLevel.ERROR;
  // Below debug, kafkajs's INFO (joined, started, stopped) is not shown: its WARN is the least it sends.
  return rank <= 2 ? logLevel.WARN : rank === 3 ? logLevel.INFO : logLevel.DEBUG;
}

/** The level an entry deserves. */
export function levelOf({ namespace, level, log }: LogEntry): Level {
  const error = typeof log.error === 'string' ? log.error : undefined;
  const membership = error !== undefined && MEMBERSHIP_ERRORS.has(error);
  // The consumer's own account of re-joining.
  if (membership && namespace !== 'Connection') return 'info';
  // The broker's answer that made it re-join: the consumer's line above says the same, once.
  if (membership) return 'debug';
  if (namespace === 'Connection' && error !== undefined && RETRIED_ANSWERS.has(error)) return 'debug';
  if (level === logLevel.ERROR) return 'error';
  if (level === logLevel.WARN) return 'warn';
  return level === logLevel.INFO ? 'debug' : 'trace';
}

const OMITTED = new Set(['timestamp', 'logger', 'message', 'correlationId', 'size', 'stack']);

// An Error (kafkajs passes the one a batch handler threw) has no enumerable fields: its message.
const show = (value: unknown): string =>
  value instanceof Error
    ? show(value.message)
    : typeof value === 'string'
      ? /[\s"=]/.test(value)
        ? JSON.stringify(value)
        : value
      : JSON.stringify(value);

/** `2025-06-01T10:00:00.000Z INFO  kafka [Runner] The group is rebalancing, re-joining groupId=… error="…"` */
export function formatEntry(entry: LogEntry, level: Level = levelOf(entry)): string {
  const { namespace, log } = entry;
  const fields = Object.entries(log)
    .filter(([key, value]) => !OMITTED.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${show(value)}`);
  const where = namespace ? `[${namespace}] ` : '';
  return [`${log.timestamp} ${level.toUpperCase().padEnd(5)} kafka ${where}${log.message}`, ...fields].join(
    ' ',
  );
}

const toConsole: LogSink = (level, line) => {
  if (level === 'error' || level === 'warn') console.error(line);
  else console.log(line);
};

/** kafkajs's logCreator for the platform's LOG_LEVEL. */
export function kafkaLogCreator(level: Config['logLevel'], sink: LogSink = toConsole): logCreator {
  const most = RANK[level];
  return () => (entry) => {
    const deserved = levelOf(entry);
    if (LEVEL_RANK[deserved] <= most) sink(deserved, formatEntry(entry, deserved));
  };
}
