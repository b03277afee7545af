// Where users' statements run: engine sessions of their own, apart from the one the speed layer
// inserts and the API answers through, in which the engine itself refuses every write, DDL, file
// or URL access and settings change (`readonly = 1`, set last, after which no setting can change
// again), and holds every call to the limits below. That wall stands whatever the statement's text
// and whatever guard.ts concluded. Each lane pairs such a reader with a local chDB session
// (`readonly = 2`: settings, no writes) that parses statements and rewrites a cut answer into the
// format asked for, work that reads no table; several lanes run side by side, so one heavy
// statement holds one lane, for at most the time limit.
import type { ClickHouseClient } from '@clickhouse/client';
import { openClickHouseSession, openLocalSession } from '../../clickhouse/index.ts';
import { ApiError } from '../errors.ts';
import { OUTPUT_SETTINGS } from './client-settings.ts';

export interface SqlLimits {
  /** Longest one engine call for a statement may run. */
  timeoutSeconds: number;
  /** Most rows an answer returns. */
  maxRows: number;
  /** Most bytes of an answer (in the engine's row format). */
  maxBytes: number;
  /** Most memory one engine call may use. */
  maxMemoryBytes: number;
  /** Threads one engine call may use, leaving the rest to ingest. */
  maxThreads: number;
}

export interface SqlSessionsOptions {
  /** The platform's client: embedded chDB, or a server's user with write access. */
  clickhouse: ClickHouseClient;
  /** The database of the metric views, every session's current database. */
  database: string;
  limits: SqlLimits;
  /** Lanes: statements that run at once. */
  lanes: number;
  /** With a ClickHouse server: the URL of the read-only user statements run as (docs/serving.md). */
  readerUrl?: string;
}

export interface Lane {
  /** Runs the statement: read-only, in the views' database, under the limits. */
  reader: ClickHouseClient;
  /** Parses statements and converts answers: chDB, so that the output format is an option of the
   * call rather than a FORMAT clause appended to the text, and settings may differ per call. */
  local: ClickHouseClient;
  /** The local session's values of the output settings a client may change (statement.ts). */
  outputDefaults: Record<string, string>;
}

type SettingValue = number | 'throw' | 'break';

/** Engine-side limits of a reader, in the order they are set; readonly is set after them. */
export function readerSettings(limits: SqlLimits): [string, SettingValue][] {
  return [
    ['max_execution_time', limits.timeoutSeconds],
    ['timeout_overflow_mode', 'throw'],
    // One row past the limit tells a cut answer from one of exactly `maxRows` rows; the engine
    // stops at a block boundary past it. The byte bound is the engine's memory of the rows, kept
    // well above the text limit that sql/answer.ts cuts at.
    ['max_result_rows', limits.maxRows + 1],
    ['max_result_bytes', 4 * limits.maxBytes],
    ['result_overflow_mode', 'break'],
    ['max_memory_usage', limits.maxMemoryBytes],
    ['max_threads', limits.maxThreads],
    // clickhouse-local's default parses `SELEC x FROM t` as an expression named SELEC.
    ['implicit_select', 0],
  ];
}

function localSettings(limits: SqlLimits): [string, SettingValue][] {
  return [
    ['max_execution_time', limits.timeoutSeconds],
    ['max_memory_usage', limits.maxMemoryBytes],
    ['max_threads', limits.maxThreads],
    ['implicit_select', 0],
    ['output_format_write_statistics', 0],
    // JSON numbers past 2^53 lose digits in most clients; ClickHouse servers quote them by default.
    ['output_format_json_quote_64bit_integers', 1],
  ];
}

const literal = (value: SettingValue) => (typeof value === 'number' ? String(value) : `'${value}'`);

async function configure(
  session: ClickHouseClient,
  settings: [string, SettingValue][],
  readonly: 1 | 2,
  database?: string,
): Promise<void> {
  for (const [name, value] of settings) await session.command({ query: `SET ${name} = ${literal(value)}` });
  if (database !== undefined) await session.command({ query: `USE ${quoteIdentifier(database)}` });
  await session.command({ query: `SET readonly = ${readonly}` });
}

/** One JSON value per output row of `query`; the format is an option of the call, not SQL text. */
export async function jsonRows<T>(
  session: ClickHouseClient,
  query: string,
  params: Record<string, string> | undefined,
): Promise<T[]> {
  const { stream } = await session.exec({
    query,
    query_params: params,
    clickhouse_settings: { default_format: 'JSONEachRow' },
  });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks)
    .toString()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as T);
}

export const quoteIdentifier = (name: string) => `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;

/** Fails unless `session` is read-only at `readonly`, in `database`, with a time limit. */
async function verify(session: ClickHouseClient, readonly: 1 | 2, database?: string): Promise<void> {
  const result = await session.query({
    query:
      "SELECT toUInt8(getSetting('readonly')) AS readonly, toFloat64(getSetting('max_execution_time')) AS timeout, currentDatabase() AS database",
    format: 'JSONEachRow',
  });
  const [state] = await result.json<{ readonly: number; timeout: number; database: string }>();
  const problems = [
    state?.readonly !== readonly && `readonly is ${state?.readonly}, not ${readonly}`,
    !(Number(state?.timeout) > 0) && 'max_execution_time is not set',
    database !== undefined &&
      state?.database !== database &&
      `its database is ${state?.database}, not ${database}`,
  ].filter(Boolean);
  if (problems.length > 0)
    throw new Error(`a session for SQL statements is not safe to use: ${problems.join('; ')}`);
}

async function openLane(options: SqlSessionsOptions): Promise<Lane> {
  const { clickhouse, database, limits, readerUrl } = options;
  const reader = openClickHouseSession(clickhouse, { url: readerUrl, database });
  const local = openLocalSession(clickhouse);
  // A server's read-only user comes with its limits and readonly from its profile; it must not be
  // asked to change settings it may not change. An embedded session gets them here.
  if (readerUrl === undefined) await configure(reader, readerSettings(limits), 1, database);
  await configure(local, localSettings(limits), 2);
  await verify(reader, 1, database);
  await verify(local, 2);
  const defaults = await jsonRows<{ name: string; value: string }>(
    local,
    'SELECT name, value FROM system.settings WHERE name IN {names:Array(String)}',
    { names: JSON.stringify(Object.keys(OUTPUT_SETTINGS)).replace(/"/g, "'") },
  );
  return { reader, local, outputDefaults: Object.fromEntries(defaults.map((d) => [d.name, d.value])) };
}

const closeLane = (lane: Lane) => Promise.all([lane.reader.close(), lane.local.close()]);

/** A lane's place in the pool; its sessions are opened again after a failure. */
interface Slot {
  lane: Lane | undefined;
}

export class SqlSessions {
  private readonly idle: Slot[];
  private readonly waiting: ((slot: Slot) => void)[] = [];

  private constructor(
    private readonly slots: Slot[],
    private readonly options: SqlSessionsOptions,
  ) {
    this.idle = [...slots];
  }

  /** Opens every lane now, so that sessions which are not safe stop the start, not a statement. */
  static async open(options: SqlSessionsOptions): Promise<SqlSessions> {
    const slots: Slot[] = [];
    try {
      for (let i = 0; i < Math.max(1, options.lanes); i++) slots.push({ lane: await openLane(options) });
    } catch (error) {
      await Promise.all(slots.map((s) => s.lane && closeLane(s.lane)));
      throw error;
    }
    return new SqlSessions(slots, options);
  }

  /**
   * Runs `work` on a free lane; a statement that finds none free within the time limit gets 503.
   * `keep(error)` says whether the lane's sessions may serve again after `work` failed with it.
   */
  async withLane<T>(work: (lane: Lane) => Promise<T>, keep: (error: unknown) => boolean): Promise<T> {
    const slot = await this.acquire();
    try {
      slot.lane ??= await openLane(this.options);
      return await work(slot.lane);
    } catch (error) {
      // chDB hands the output a failed query left unread to the session's next query (seen: the
      // header of a statement stopped by its time limit came first in the next statement's
      // answer), so a session an engine call failed in is not used again.
      if (slot.lane && !keep(error)) {
        const lane = slot.lane;
        slot.lane = undefined;
        await closeLane(lane);
      }
      throw error;
    } finally {
      const next = this.waiting.shift();
      if (next) next(slot);
      else this.idle.push(slot);
    }
  }

  private acquire(): Promise<Slot> {
    const slot = this.idle.pop();
    if (slot) return Promise.resolve(slot);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(take), 1);
        reject(
          new ApiError(503, 'sql_busy', 'every SQL session is busy with other statements; retry shortly'),
        );
      }, this.options.limits.timeoutSeconds * 1000);
      const take = (free: Slot) => {
        clearTimeout(timer);
        resolve(free);
      };
      this.waiting.push(take);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.lane && closeLane(s.lane)));
  }
}
