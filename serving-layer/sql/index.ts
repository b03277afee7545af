// SQL for BI tools over the merged metric views, safe by construction (docs/serving.md, "The SQL
// endpoint"): the engine's own parse decides, allow-lists say what may appear, and the statement
// runs where the engine itself refuses writes, file access and settings changes, under limits.
import type { ClickHouseClient } from '@clickhouse/client';
import { isEmbedded } from '../../clickhouse/index.ts';
import type { Catalog } from '../../contracts/catalog.ts';
import type { BoundaryState } from '../context.ts';
import type { Role } from '../keys.ts';
import { AnswerCache, ParseCache } from './answer-cache.ts';
import { CLIENT_SETTING_NAMES } from './client-settings.ts';
import {
  checkStatement,
  type FunctionCatalog,
  Refusal,
  rulesIdentity,
  type StatementRules,
} from './guard.ts';
import { createQuarantineTable, qualityDatabase } from './quarantine-table.ts';
import { type Lane, type SqlLimits, SqlSessions } from './sessions.ts';
import { type Answer, type Parsed, parseStatement, runStatement, type Statement } from './statement.ts';
import { createSystemViews, systemViewsDatabase } from './system-views.ts';
import { MergedViews } from './views.ts';

export { type ClientSettings, clientSettings } from './client-settings.ts';
export { type AstNode, checkStatement, refuse, rulesIdentity, type StatementRules } from './guard.ts';
export { splitOutputClauses } from './output-clauses.ts';
export type { Lane, SqlLimits } from './sessions.ts';
export { type Parsed, readRows, writeRows } from './statement.ts';
export { SYSTEM_VIEWS, systemViewsDatabase } from './system-views.ts';
export { identifier, splice, type Token, tokenize, unquote } from './tokens.ts';

export interface SqlServiceOptions {
  /** The platform's client (embedded chDB, or a server's writing user): creates the views. */
  clickhouse: ClickHouseClient;
  catalog: Catalog;
  boundary: () => BoundaryState | undefined;
  /** Database of the metric views. */
  database: string;
  limits: SqlLimits;
  /** Statements that run at once, each in a session of its own. */
  lanes: number;
  /** With a ClickHouse server: the URL of the read-only user statements run as. */
  readerUrl?: string;
  /** The quarantine table's files now (lake/quarantine-table.ts), read by engineers' statements. */
  quarantineFiles?: () => Promise<string[]>;
  /** How long identical statements share an answer at most (0: never; answer-cache.ts). */
  cacheMs?: number;
  /** What answers depend on besides their statement (the speed view's commit count and the
   * boundary), or undefined when that cannot be told: answers are then not shared. */
  state?: () => Promise<string | undefined>;
}

/** Bytes of answers kept for sharing. */
const ANSWER_CACHE_BYTES = 64 << 20;

async function functionCatalog(clickhouse: ClickHouseClient): Promise<FunctionCatalog> {
  const result = await clickhouse.query({
    query: 'SELECT name, alias_to, case_insensitive FROM system.functions',
    format: 'JSONEachRow',
  });
  const rows = await result.json<{ name: string; alias_to: string; case_insensitive: number | boolean }>();
  return {
    aliasOf: new Map(rows.filter((r) => r.alias_to !== '').map((r) => [r.name, r.alias_to])),
    caseInsensitive: new Map(
      rows.filter((r) => Boolean(r.case_insensitive)).map((r) => [r.name.toLowerCase(), r.name]),
    ),
  };
}

export class SqlService {
  private readonly parses = new ParseCache<Parsed>(2_000);
  /** Answers shared between identical statements (answer-cache.ts). */
  private readonly answers: AnswerCache;
  /** The quarantine table's files when engineers may read it (quarantine-table.ts). */
  private readonly quarantine: (() => Promise<string[]>) | undefined;
  private readonly clickhouse: ClickHouseClient;

  private constructor(
    readonly views: MergedViews,
    private readonly sessions: SqlSessions,
    readonly functions: FunctionCatalog,
    readonly limits: SqlLimits,
    options: SqlServiceOptions,
  ) {
    this.clickhouse = options.clickhouse;
    this.quarantine = isEmbedded(options.clickhouse) ? options.quarantineFiles : undefined;
    this.answers = new AnswerCache(
      options.cacheMs ?? 0,
      ANSWER_CACHE_BYTES,
      options.state ?? (async () => undefined),
    );
  }

  static async open(options: SqlServiceOptions): Promise<SqlService> {
    const views = new MergedViews(options.clickhouse, options.database, options.catalog, options.boundary);
    await views.ensure();
    // A ClickHouse server reads files only under its own directory: there, no quarantine table.
    const quarantine = isEmbedded(options.clickhouse) ? options.quarantineFiles : undefined;
    if (quarantine) await createQuarantineTable(options.clickhouse, options.database, await quarantine());
    const shown = [options.database, ...(quarantine ? [qualityDatabase(options.database)] : [])];
    await createSystemViews(options.clickhouse, options.database, shown, CLIENT_SETTING_NAMES);
    // Sessions last: an open that fails (the endpoint tries again) leaves none behind.
    const functions = await functionCatalog(options.clickhouse);
    const sessions = await SqlSessions.open(options);
    return new SqlService(views, sessions, functions, options.limits, options);
  }

  /**
   * What a statement may read: the metric views; for engineers (and admins) also the quarantine
   * table, when there is one.
   */
  rules(role?: Role): StatementRules {
    const quality = this.quarantine !== undefined && (role === 'engineer' || role === 'admin');
    return {
      database: this.views.database,
      tables: this.views.tables,
      otherDatabases: new Set(quality ? [qualityDatabase(this.views.database)] : []),
    };
  }

  /** What a statement through the ClickHouse interface may read: the above, and the filtered
   * system views its catalog queries are pointed at; and it may carry parameters. */
  interfaceRules(role?: Role): StatementRules {
    const rules = this.rules(role);
    return {
      ...rules,
      otherDatabases: new Set([...(rules.otherDatabases ?? []), systemViewsDatabase(this.views.database)]),
      parameters: true,
    };
  }

  /** The engine's parse of a statement text (steps 1 and 2), kept for texts seen before. */
  parse(sql: string, params?: Record<string, string>): Promise<Parsed> {
    return this.parses.through(sql, params, () => this.withLane((lane) => parseStatement(lane, sql, params)));
  }

  /**
   * `compute()`'s answer, shared with identical statements (answer-cache.ts) unless the statement
   * reads the quarantine table, which changes without a speed commit. That table is made again
   * first, over the files of the Delta table's newest version.
   */
  async share<T extends { body: Buffer }>(
    parsed: Parsed,
    identity: unknown,
    compute: () => Promise<T>,
  ): Promise<T> {
    const quality = `${qualityDatabase(this.views.database)}.`;
    if (!parsed.ast.some((n) => n.kind === 'TableIdentifier' && n.arg.startsWith(quality)))
      return this.answers.through(identity, compute);
    if (this.quarantine)
      await createQuarantineTable(this.clickhouse, this.views.database, await this.quarantine());
    return compute();
  }

  async run(statement: Omit<Statement, 'rules'> & { rules?: StatementRules }): Promise<Answer> {
    const rules = statement.rules ?? this.rules();
    const parsed = await this.parse(statement.sql, statement.params);
    checkStatement(parsed.ast, rules, this.functions);
    const { sql: _, rules: __, ...rest } = statement;
    return this.share(parsed, { ...rest, rules: rulesIdentity(rules), canonical: parsed.canonical }, () =>
      this.withLane((lane) =>
        runStatement(lane, { ...statement, rules }, this.limits, this.functions, parsed),
      ),
    );
  }

  /** Runs `work` on a lane of sessions, the views current; see SqlSessions.withLane. */
  async withLane<T>(work: (lane: Lane) => Promise<T>): Promise<T> {
    await this.views.ensure();
    return this.sessions.withLane(work, (error) => error instanceof Refusal);
  }

  async close(): Promise<void> {
    this.views.close();
    await this.sessions.close();
  }
}
