// The statements BI tools send, answered through the SQL endpoint's machinery (sql/): a SELECT
// with its own FORMAT and SETTINGS clauses, its catalog reads of system.* pointed at the filtered
// views, and SHOW, DESCRIBE and EXISTS turned into SELECTs of ours over those views with the
// names as bound parameters. Whatever is built here is parsed and checked again from the start
// (readRows), so a mistake in this file can refuse a statement but cannot widen what is allowed;
// a plain SELECT, which needs no edit, is checked on the parse already made.

import type { Role } from '../keys.ts';
import {
  type AstNode,
  type ClientSettings,
  checkStatement,
  clientSettings,
  identifier,
  type Lane,
  type Parsed,
  readRows,
  refuse,
  rulesIdentity,
  type SqlService,
  SYSTEM_VIEWS,
  splice,
  splitOutputClauses,
  systemViewsDatabase,
  type Token,
  tokenize,
  unquote,
  writeRows,
} from '../sql/index.ts';
import { ClickHouseError } from './protocol.ts';

export interface InterfaceStatement {
  text: string;
  /** The format the client asked for where the statement names none. */
  format: string;
  params: Record<string, string>;
  /** Settings from the URL; a SETTINGS clause of the statement goes over them. */
  settings: [string, string][];
  /** The role of the caller's key: engineers may also read the quarantine table. */
  role?: Role;
}

export interface InterfaceAnswer {
  body: Buffer;
  format: string;
  rows: number;
}

const settingRefused = (name: string, reason: string) =>
  new ClickHouseError(164, 'READONLY', `Cannot modify '${name}' setting: ${reason}`);

const quote = (name: string) => `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;

/** A statement of ours over the filtered system views, and its bound values. */
interface Plan {
  sql: string;
  params: Record<string, string>;
  format?: string;
  settings?: Map<string, string>;
  /** Answer with the columns of the statement's result, as DESCRIBE does. */
  describe?: boolean;
  /** The engine's parse of `sql`, when it is the statement as sent. */
  parsed?: Parsed;
}

/** `system.<table>` of the views' catalog pointed at the filtered views of the same name. */
function pointAtSystemViews(statement: string, tokens: readonly Token[], systemDb: string): string {
  let out = statement;
  for (let i = tokens.length - 3; i >= 0; i--) {
    const [db, dot, table] = [tokens[i], tokens[i + 1], tokens[i + 2]];
    const name = identifier(table);
    if (identifier(db) !== 'system' || dot?.type !== 'Dot' || name === undefined) continue;
    if (!(SYSTEM_VIEWS as readonly string[]).includes(name) || tokens[i - 1]?.type === 'Dot') continue;
    out = splice(out, db?.begin ?? 0, table?.end ?? 0, `${quote(systemDb)}.${quote(name)}`);
  }
  return out;
}

const isWord = (token: Token | undefined, ...words: string[]) =>
  token?.type === 'BareWord' && words.includes(token.text.toUpperCase());

/** `LIKE 'pattern'` (or NOT LIKE, ILIKE) at tokens[i], as a condition on `column`. */
function likeClause(
  tokens: readonly Token[],
  i: number,
  column: string,
): { sql: string; pattern: string; next: number } | undefined {
  const not = isWord(tokens[i], 'NOT');
  const op = tokens[not ? i + 1 : i];
  const literal = tokens[not ? i + 2 : i + 1];
  if (!isWord(op, 'LIKE', 'ILIKE') || literal?.type !== 'StringLiteral') return undefined;
  const sql = `${column} ${not ? 'NOT ' : ''}${op?.text.toUpperCase()} {pattern:String}`;
  return { sql, pattern: unquote(literal.text), next: not ? i + 3 : i + 2 };
}

function showTables(tokens: readonly Token[], database: string, systemDb: string): Plan {
  const views = (name: string) => `${quote(systemDb)}.${quote(name)}`;
  if (!isWord(tokens[1], 'TABLES', 'DATABASES'))
    throw refuse('of SHOW statements only SHOW TABLES, DATABASES and COLUMNS are supported', 'statement');
  const databases = isWord(tokens[1], 'DATABASES');
  let i = 2;
  let db = database;
  if (!databases && isWord(tokens[i], 'FROM', 'IN')) {
    db = identifier(tokens[i + 1]) ?? '';
    i += 2;
  }
  const like = likeClause(tokens, i, 'name');
  if (like) i = like.next;
  if (i !== tokens.length)
    throw refuse('only SHOW TABLES|DATABASES [FROM db] [[NOT] [I]LIKE pattern] is supported', 'statement');
  const where = [databases ? '1' : 'database = {database:String}', like?.sql ?? '1'].join(' AND ');
  return {
    sql: `SELECT name FROM ${views(databases ? 'databases' : 'tables')} WHERE ${where} ORDER BY name`,
    params: { database: db, ...(like ? { pattern: like.pattern } : {}) },
  };
}

function showColumns(tokens: readonly Token[], database: string, systemDb: string): Plan {
  // SHOW [EXTENDED] [FULL] COLUMNS FROM|IN t [FROM|IN db] [[NOT] [I]LIKE pattern]
  let i = 1;
  while (isWord(tokens[i], 'EXTENDED', 'FULL')) i++;
  if (!isWord(tokens[i], 'COLUMNS', 'FIELDS') || !isWord(tokens[i + 1], 'FROM', 'IN'))
    throw refuse('only SHOW COLUMNS FROM table [FROM db] is supported', 'statement');
  let db = database;
  let table = identifier(tokens[i + 2]);
  i += 3;
  if (tokens[i]?.type === 'Dot') {
    db = table ?? '';
    table = identifier(tokens[i + 1]);
    i += 2;
  } else if (isWord(tokens[i], 'FROM', 'IN')) {
    db = identifier(tokens[i + 1]) ?? '';
    i += 2;
  }
  const like = likeClause(tokens, i, 'name');
  if (like) i = like.next;
  if (table === undefined || i !== tokens.length)
    throw refuse('only SHOW COLUMNS FROM table [FROM db] [LIKE pattern] is supported', 'statement');
  return {
    sql: `SELECT name AS field, type, if(startsWith(type, 'Nullable('), 'YES', 'NO') AS \`null\`, '' AS key,
      default_expression AS default, '' AS extra FROM ${quote(systemDb)}.columns
      WHERE database = {database:String} AND table = {table:String} AND ${like?.sql ?? '1'} ORDER BY position`,
    params: { database: db, table, ...(like ? { pattern: like.pattern } : {}) },
  };
}

/** The parts of a (database.)table name an AST node gives. */
function tableName(arg: string, database: string): { database: string; table: string } {
  const parts = arg.split('.');
  return parts.length === 2 ? { database: parts[0] ?? '', table: parts[1] ?? '' } : { database, table: arg };
}

/** DESCRIBE's columns, and where system.columns keeps them. */
const DESCRIBE = {
  name: 'name',
  type: 'type',
  default_type: 'default_kind',
  default_expression: 'default_expression',
  comment: 'comment',
  codec_expression: 'compression_codec',
  ttl_expression: "''",
};
const DESCRIBE_COLUMNS = Object.entries(DESCRIBE)
  .map(([name, source]) => `${source} AS ${name}`)
  .join(', ');

function describe(
  canonical: string,
  ast: readonly AstNode[],
  tokens: readonly Token[],
  database: string,
  systemDb: string,
): Plan {
  const target = ast[2];
  if (target?.kind === 'TableIdentifier')
    return {
      sql: `SELECT ${DESCRIBE_COLUMNS} FROM ${quote(systemDb)}.columns WHERE database = {database:String} AND table = {table:String} ORDER BY position`,
      params: tableName(target.arg, database),
    };
  // DESCRIBE TABLE (SELECT ...): the subquery's result columns.
  const open = tokens.findIndex((t) => t.type === 'OpeningRoundBracket');
  const close = tokens.at(-1);
  if (target?.kind !== 'Subquery' || open < 0 || close?.type !== 'ClosingRoundBracket')
    throw refuse('only DESCRIBE TABLE t and DESCRIBE TABLE (SELECT ...) are supported', 'statement');
  const bytes = Buffer.from(canonical);
  return { sql: bytes.subarray(tokens[open]?.end ?? 0, close.begin).toString(), params: {}, describe: true };
}

function exists(ast: readonly AstNode[], database: string, systemDb: string): Plan {
  const root = ast[0];
  const names = ast.filter((n) => n.depth === 1 && n.kind === 'Identifier').map((n) => n.arg);
  if (root?.kind === 'ExistsDatabaseQuery' && names.length === 1)
    return {
      sql: `SELECT toUInt8(count() > 0) AS result FROM ${quote(systemDb)}.databases WHERE name = {database:String}`,
      params: { database: names[0] ?? '' },
    };
  const [db, table] = names.length === 2 ? names : [database, names[0]];
  return {
    sql: `SELECT toUInt8(count() > 0) AS result FROM ${quote(systemDb)}.tables WHERE database = {database:String} AND name = {table:String}`,
    params: { database: db ?? '', table: table ?? '' },
  };
}

/** A SELECT with no clause after it and no system table: it runs as it is, parsed once. */
const plain = (ast: readonly AstNode[]) =>
  ast[0]?.kind === 'SelectWithUnionQuery' &&
  ast.filter((n) => n.depth === 1).length === 1 &&
  !ast.some((n) => n.kind === 'Set' || (n.kind === 'TableIdentifier' && n.arg.startsWith('system.')));

async function plan(lane: Lane, canonical: string, ast: readonly AstNode[], database: string): Promise<Plan> {
  const systemDb = systemViewsDatabase(database);
  const tokens = await tokenize(lane.local, canonical);
  switch (ast[0]?.kind) {
    case 'SelectWithUnionQuery': {
      if (ast.some((n) => n.depth === 1 && n.kind === 'Literal'))
        throw refuse('INTO OUTFILE is not allowed: the answer is the response', 'outfile');
      // Trailing FORMAT and SETTINGS, whether the parser hung the SETTINGS on the union or on its
      // last SELECT; anything else that remains is refused by the checks the query then meets.
      const split = splitOutputClauses(canonical, tokens);
      const query = split?.query ?? canonical;
      return {
        sql: pointAtSystemViews(query, await tokenize(lane.local, query), systemDb),
        params: {},
        format: split?.format,
        settings: split?.settings,
      };
    }
    case 'ShowTables':
      return showTables(tokens, database, systemDb);
    case 'ShowColumns':
      return showColumns(tokens, database, systemDb);
    case 'DescribeQuery':
      return describe(canonical, ast, tokens, database, systemDb);
    case 'ExistsTableQuery':
    case 'ExistsDatabaseQuery':
      return exists(ast, database, systemDb);
    default:
      throw refuse(
        `${ast[0]?.kind.replace(/Query$/, '').toUpperCase() ?? 'this statement'} is not allowed: this interface is read-only`,
        'statement',
      );
  }
}

/** The result of a DESCRIBE of a subquery, built from the subquery's names and types. */
function describeRows(rowsText: string): string {
  const [names = [], types = []] = rowsText.split('\n', 2).map((line) => JSON.parse(line) as string[]);
  const columns = Object.keys(DESCRIBE);
  const lines = [JSON.stringify(columns), JSON.stringify(columns.map(() => 'String'))];
  for (const [i, name] of names.entries()) lines.push(JSON.stringify([name, types[i], '', '', '', '', '']));
  return `${lines.join('\n')}\n`;
}

function withDeadline<T>(work: Promise<T>, seconds: number | undefined): Promise<T> {
  if (seconds === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ClickHouseError(159, 'TIMEOUT_EXCEEDED', `Timeout exceeded: elapsed ${seconds} s`)),
      seconds * 1000,
    );
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

export async function answerStatement(
  service: SqlService,
  statement: InterfaceStatement,
): Promise<InterfaceAnswer> {
  const database = service.views.database;
  const { canonical, ast } = await service.parse(statement.text, statement.params);
  const planned = plain(ast)
    ? { sql: canonical, params: {}, parsed: { canonical, ast } }
    : await service.withLane((lane) => plan(lane, canonical, ast, database));
  const settings: ClientSettings = clientSettings(
    [...statement.settings, ...(planned.settings ?? [])],
    settingRefused,
  );
  const format = planned.format ?? statement.format;
  const params = { ...statement.params, ...planned.params };
  const rules = service.interfaceRules(statement.role);
  // Checked here, before any shared answer is looked up: sharing is between statements that are
  // allowed, never a way around the rules.
  const parsed = planned.parsed ?? (await service.parse(planned.sql, params));
  checkStatement(parsed.ast, rules, service.functions);
  const identity = {
    sql: parsed.canonical,
    params,
    format,
    settings,
    describe: planned.describe,
    rules: rulesIdentity(rules),
  };
  const answer = service.share(parsed, identity, () =>
    service.withLane(async (lane) => {
      const read = readRows(
        lane,
        {
          sql: planned.sql,
          params,
          maxRows: planned.describe ? 0 : settings.maxRows,
          maxBytes: settings.maxBytes,
          rules,
        },
        service.limits,
        service.functions,
        parsed,
      );
      const rows = await withDeadline(read, settings.timeoutSeconds);
      if (rows.truncated && settings.overflowThrows && !planned.describe)
        throw new ClickHouseError(
          396,
          'TOO_MANY_ROWS_OR_BYTES',
          `Limit for result exceeded: max rows ${rows.limit}`,
        );
      const text = planned.describe ? describeRows(rows.text) : rows.text;
      const body = await writeRows(lane, text, format, settings.output);
      return { body, format, rows: planned.describe ? text.split('\n').length - 3 : rows.rows };
    }),
  );
  return answer;
}
