// One user statement from text to answer. The text is never spliced into SQL of ours:
// 1. the engine parses it as a bound string value (formatQuerySingleLine), which refuses a second
//    statement, and renders its parse as canonical text: one line, no comments, every literal
//    escaped by the engine;
// 2. EXPLAIN AST of that canonical text is checked against the allow-lists (guard.ts); both run in
//    the lane's local session, whose output format is an option of the call;
// 3. the canonical text itself runs in the read-only reader session (sessions.ts), in a row format
//    that can be cut at a row limit without parsing it;
// 4. the rows kept are rewritten into the format asked for by the local session, from bound string
//    values again.
// What runs is exactly what was checked: the engine's rendering of its own parse, not the bytes the
// client sent, so a comment, a quote or a look-alike character cannot mean one thing to the check
// and another to the engine.
import type { ClickHouseClient } from '@clickhouse/client';
import { ApiError } from '../errors.ts';
import {
  type AstNode,
  checkStatement,
  type FunctionCatalog,
  parseAst,
  type StatementRules,
} from './guard.ts';
import { jsonRows, type Lane, quoteIdentifier, type SqlLimits } from './sessions.ts';

/** The engine's row format answers are cut in: a names line, a types line, one line per row. */
export const ROWS_FORMAT = 'JSONCompactEachRowWithNamesAndTypes';

/** Output formats an answer may be asked in, spelled as ClickHouse names them. */
export const OUTPUT_FORMATS: ReadonlySet<string> = new Set(
  `JSON JSONCompact JSONStrings JSONCompactStrings JSONEachRow JSONStringsEachRow JSONCompactEachRow
  JSONCompactEachRowWithNames JSONCompactEachRowWithNamesAndTypes JSONCompactStringsEachRow
  JSONCompactStringsEachRowWithNames JSONCompactStringsEachRowWithNamesAndTypes JSONObjectEachRow
  JSONColumns JSONCompactColumns JSONColumnsWithMetadata JSONLines NDJSON TabSeparated TabSeparatedRaw
  TabSeparatedWithNames TabSeparatedWithNamesAndTypes TabSeparatedRawWithNames
  TabSeparatedRawWithNamesAndTypes TSV TSVRaw TSVWithNames TSVWithNamesAndTypes CSV CSVWithNames
  CSVWithNamesAndTypes Values Vertical Pretty PrettyCompact PrettyCompactMonoBlock PrettyNoEscapes
  PrettySpace Markdown XML TSKV RowBinary RowBinaryWithNames RowBinaryWithNamesAndTypes Native Arrow
  ArrowStream Parquet ORC MsgPack Null`.split(/\s+/),
);

export interface Statement {
  sql: string;
  /** ClickHouse output format of the answer. */
  format: string;
  /** At most this many rows, and bytes of rows (each capped by the limits). */
  maxRows?: number;
  maxBytes?: number;
  /** Values of `{name:Type}` parameters, bound by the engine. */
  params?: Record<string, string>;
  /** Output settings (names in OUTPUT_SETTINGS, values checked) for writing the answer. */
  output?: Record<string, string>;
  rules: StatementRules;
}

/** An answer in ROWS_FORMAT, cut to its limits. */
export interface Rows {
  text: string;
  rows: number;
  truncated: boolean;
  /** The row limit that applied. */
  limit: number;
}

export interface Answer extends Omit<Rows, 'text'> {
  body: Buffer;
}

/** ClickHouse error codes a statement can earn, and what the client is told. */
const CLIENT_ERRORS: Record<number, { status: number; code: string }> = {
  62: { status: 400, code: 'sql_syntax' },
  // A statement past its time or memory budget fails the same way when retried: a client error.
  159: { status: 400, code: 'sql_timeout' },
  164: { status: 400, code: 'sql_refused' },
  241: { status: 400, code: 'sql_too_expensive' },
  396: { status: 400, code: 'sql_too_expensive' },
};

function clickhouseCode(error: unknown): number | undefined {
  const e = error as { code?: string | number; message?: string };
  if (typeof e.code === 'string' && /^\d+$/.test(e.code)) return Number(e.code);
  if (typeof e.code === 'number') return e.code;
  const m = /Code: (\d+)\./.exec(e.message ?? '');
  return m ? Number(m[1]) : undefined;
}

/**
 * The engine's message without its code prefix, exception class, trace, or the scope that quotes
 * SQL of ours (the parse and conversion calls); positions in a syntax error count in the text the
 * client sent, since that text is what the engine parsed.
 */
export function engineMessage(error: unknown): string {
  return String((error as Error).message ?? error)
    .replace(/^.*?DB::Exception: /s, '')
    .replace(/\s*\(version [^)]*\)\s*$/, '')
    .replace(/\s*Stack trace:[\s\S]*$/, '')
    .replace(/\.? \([A-Z_]+\)\s*$/, '')
    .replace(/:? ?in scope [\s\S]*$/i, '')
    .trim();
}

/** The engine's name of its error code, e.g. TIMEOUT_EXCEEDED. */
function engineErrorName(error: unknown): string | undefined {
  // @clickhouse/client takes the name out of the message into `type`.
  const { type } = error as { type?: unknown };
  if (typeof type === 'string' && type !== '') return type;
  return /\(([A-Z][A-Z0-9_]+)\)(?:\s*\(version [^)]*\))?\s*$/.exec(
    String((error as Error).message ?? ''),
  )?.[1];
}

/**
 * A failed engine call as the client sees it; `stage` says whose SQL failed. The engine's own code
 * and name travel in `details`, for clients that speak ClickHouse (clickhouse-http/).
 */
function clientError(error: unknown, stage: 'parse' | 'run' | 'convert'): ApiError {
  if (error instanceof ApiError) return error;
  const code = clickhouseCode(error);
  if (code === undefined) throw error;
  const details = { clickhouseCode: code, clickhouseName: engineErrorName(error) };
  const known = CLIENT_ERRORS[code];
  if (known) return new ApiError(known.status, known.code, engineMessage(error), details);
  if (stage === 'convert')
    return new ApiError(
      400,
      'sql_unsupported_result',
      `the answer cannot be written in this format: ${engineMessage(error)}`,
      details,
    );
  // Anything else the engine refused about the statement (unknown column, type mismatch, ...).
  return new ApiError(400, 'sql_invalid', engineMessage(error), details);
}

async function call<T>(stage: 'parse' | 'run' | 'convert', work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw clientError(error, stage);
  }
}

/** The engine's one-line rendering of its parse of `sql`, which must be exactly one statement. */
export async function canonicalStatement(local: ClickHouseClient, sql: string): Promise<string> {
  return call('parse', async () => {
    const [row] = await jsonRows<{ statement: string }>(
      local,
      'SELECT formatQuerySingleLine({statement:String}) AS statement',
      { statement: sql },
    );
    if (!row?.statement) throw new ApiError(400, 'sql_refused', 'empty statement');
    return row.statement;
  });
}

/** EXPLAIN AST of a canonical statement, one entry per node. */
export async function explainStatement(
  local: ClickHouseClient,
  canonical: string,
  params: Record<string, string> | undefined,
): Promise<AstNode[]> {
  return call('parse', async () => {
    // `canonical` is the engine's rendering of one statement: it cannot close anything before it.
    const rows = await jsonRows<{ explain: string }>(local, `EXPLAIN AST ${canonical}`, params);
    // One JSON string per node: a newline inside a literal stays inside its string.
    return parseAst(rows.map((r) => r.explain));
  });
}

/**
 * The first `maxRows` rows of an answer in ROWS_FORMAT within `maxBytes`, and whether any were
 * left out. A JSON row never holds a raw newline, so lines are rows.
 */
export function cutRows(
  text: string,
  maxRows: number,
  maxBytes: number,
): { text: string; rows: number; truncated: boolean } {
  let end = 0;
  let lines = 0;
  let bytes = 0;
  for (let next = text.indexOf('\n'); next >= 0; next = text.indexOf('\n', end)) {
    const lineBytes = Buffer.byteLength(text.slice(end, next + 1));
    const rows = lines - 2;
    if (rows >= 0 && (rows >= maxRows || bytes + lineBytes > maxBytes))
      return { text: text.slice(0, end), rows, truncated: true };
    bytes += lineBytes;
    end = next + 1;
    lines++;
  }
  return { text: text.slice(0, end), rows: Math.max(0, lines - 2), truncated: false };
}

/**
 * `rows` (in ROWS_FORMAT) written in `format` by the engine, from bound values only, with the
 * lane's output settings and the client's `output` over them.
 */
export async function writeRows(
  lane: Lane,
  rows: string,
  format: string,
  output: Record<string, string> = {},
): Promise<Buffer> {
  if (!OUTPUT_FORMATS.has(format))
    throw new ApiError(400, 'sql_unknown_format', `unknown output format ${format}`);
  if (format === ROWS_FORMAT && Object.keys(output).length === 0) return Buffer.from(rows);
  const [names, types] = rows.split('\n', 2).map((line) => JSON.parse(line) as string[]);
  // The structure is given, not inferred, so that an answer without rows keeps its columns.
  const structure = (names ?? []).map((name, i) => `${quoteIdentifier(name)} ${types?.[i]}`).join(', ');
  // format() makes no columns of a header alone: an answer without rows comes from null().
  const source =
    rows.indexOf('\n', rows.indexOf('\n') + 1) === rows.length - 1
      ? 'null({structure:String})'
      : `format(${ROWS_FORMAT}, {structure:String}, {rows:String})`;
  return call('convert', async () => {
    const { stream } = await lane.local.exec({
      query: `SELECT * FROM ${source} FORMAT ${format}`,
      query_params: { structure, rows },
      clickhouse_settings: { ...lane.outputDefaults, ...output },
    });
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
    return Buffer.concat(chunks);
  });
}

/** Steps 1 to 3: the statement checked, run and cut to its limits, in ROWS_FORMAT. */
/** A statement already parsed by the engine: its canonical text and that text's EXPLAIN AST. */
export interface Parsed {
  canonical: string;
  ast: readonly AstNode[];
}

/** Steps 1 and 2 of a statement's text. */
export async function parseStatement(
  lane: Lane,
  sql: string,
  params?: Record<string, string>,
): Promise<Parsed> {
  const canonical = await canonicalStatement(lane.local, sql);
  return { canonical, ast: await explainStatement(lane.local, canonical, params) };
}

/**
 * Steps 1 to 3: the statement checked, run and cut to its limits, in ROWS_FORMAT. `parsed`, when
 * the caller parsed `statement.sql` already, saves parsing it again; it is checked all the same.
 */
export async function readRows(
  lane: Lane,
  statement: Omit<Statement, 'format'>,
  limits: SqlLimits,
  functions: FunctionCatalog,
  parsed?: Parsed,
): Promise<Rows> {
  const { canonical, ast } = parsed ?? (await parseStatement(lane, statement.sql, statement.params));
  checkStatement(ast, statement.rules, functions);
  const limit = Math.min(statement.maxRows ?? limits.maxRows, limits.maxRows);
  const text = await call('run', async () => {
    const result = await lane.reader.query({
      query: canonical,
      query_params: statement.params,
      format: ROWS_FORMAT as 'JSONCompactEachRowWithNamesAndTypes',
    });
    return result.text();
  });
  const cut = cutRows(text, limit, Math.min(statement.maxBytes ?? limits.maxBytes, limits.maxBytes));
  return { ...cut, limit };
}

export async function runStatement(
  lane: Lane,
  statement: Statement,
  limits: SqlLimits,
  functions: FunctionCatalog,
  parsed?: Parsed,
): Promise<Answer> {
  if (!OUTPUT_FORMATS.has(statement.format))
    throw new ApiError(400, 'sql_unknown_format', `unknown output format ${statement.format}`);
  const { text, ...rows } = await readRows(lane, statement, limits, functions, parsed);
  return { ...rows, body: await writeRows(lane, text, statement.format, statement.output) };
}
