// SQL for BI tools over the merged metric views, safe by construction (docs/serving.md, "The SQL
// endpoint"): the engine's own parse decides, allow-lists say what may appear, and the statement
// runs where the engine itself refuses writes, file access and settings changes, under limits.
import type { ClickHouseClient } from '@clickhouse/client';
import type { Catalog } from '../../contracts/catalog.ts';
import type { BoundaryState } from '../context.ts';
import { CLIENT_SETTING_NAMES } from './client-settings.ts';
import { type FunctionCatalog, Refusal, type StatementRules } from './guard.ts';
import { type Lane, type SqlLimits, SqlSessions } from './sessions.ts';
import { type Answer, runStatement, type Statement } from './statement.ts';
import { createSystemViews, systemViewsDatabase } from './system-views.ts';
import { MergedViews } from './views.ts';

export { type ClientSettings, clientSettings } from './client-settings.ts';
export { type AstNode, REFUSAL_CODES, Refusal, refuse, type StatementRules } from './guard.ts';
export { splitOutputClauses } from './output-clauses.ts';
export type { Lane, SqlLimits } from './sessions.ts';
export {
  type Answer,
  canonicalStatement,
  explainStatement,
  OUTPUT_FORMATS,
  type Parsed,
  parseStatement,
  ROWS_FORMAT,
  type Rows,
  readRows,
  writeRows,
} from './statement.ts';
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
}

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
  private constructor(
    readonly views: MergedViews,
    private readonly sessions: SqlSessions,
    readonly functions: FunctionCatalog,
    readonly limits: SqlLimits,
  ) {}

  static async open(options: SqlServiceOptions): Promise<SqlService> {
    const views = new MergedViews(options.clickhouse, options.database, options.catalog, options.boundary);
    await views.ensure();
    await createSystemViews(options.clickhouse, options.database, CLIENT_SETTING_NAMES);
    const sessions = await SqlSessions.open(options);
    return new SqlService(views, sessions, await functionCatalog(options.clickhouse), options.limits);
  }

  /** What a statement may read: the metric views. */
  rules(): StatementRules {
    return { database: this.views.database, tables: this.views.tables };
  }

  /** What a statement through the ClickHouse interface may read: the views, and the filtered
   * system views its catalog queries are pointed at; and it may carry parameters. */
  interfaceRules(): StatementRules {
    return {
      ...this.rules(),
      otherDatabases: new Set([systemViewsDatabase(this.views.database)]),
      parameters: true,
    };
  }

  async run(statement: Omit<Statement, 'rules'> & { rules?: StatementRules }): Promise<Answer> {
    return this.withLane((lane) =>
      runStatement(
        lane,
        { ...statement, rules: statement.rules ?? this.rules() },
        this.limits,
        this.functions,
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
