// What the SQL endpoint lets through, decided on ClickHouse's own parse of the statement (EXPLAIN
// AST), so that case, comments, quoting or whitespace cannot disguise what a statement is:
// - one SELECT (UNION / INTERSECT / EXCEPT and subqueries included); DDL, DML, SET, SYSTEM, ... refused;
// - tables: the metric views and the query's own WITH names only; qualified names never;
// - no table functions (file, url, s3, remote, numbers, ...) and no functions that reach outside
//   the query (file, url, dictionaries, joinGet, ...);
// - no SETTINGS, FORMAT or INTO OUTFILE clauses: the endpoint sets limits and output itself.
// The statement then runs wrapped with readonly = 1, a time-out and a row limit (sql-endpoint.ts),
// so the engine refuses writes and file access even if a rule here were ever too lenient.
import { ApiError } from './errors.ts';

export const refuse = (message: string) => new ApiError(400, 'sql_refused', message);

const SELECT_ROOTS = new Set(['SelectWithUnionQuery', 'SelectIntersectExceptQuery']);
/** Functions that read or call outside the query's tables, compared in lower case. */
const OUTSIDE = [
  /^file$/,
  /^url$/,
  /^s3/,
  /^hdfs/,
  /^azure/,
  /^gcs$/,
  /^remote/,
  /^dict/,
  /^joinget/,
  /^input$/,
  /^executable/,
  /^mysql/,
  /^postgresql/,
  /^mongodb/,
  /^redis$/,
  /^sqlite/,
  /^jdbc$/,
  /^odbc$/,
  /^iceberg/,
  /^deltalake/,
  /^hudi/,
  /^cluster/,
  /^getsubcolumn$/,
];

interface AstLine {
  depth: number;
  node: string;
  /** What follows the node name: an identifier, function name or literal. */
  arg: string;
}

function parseAst(text: string): AstLine[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const depth = line.length - line.trimStart().length;
      const [node = '', ...rest] = line
        .trim()
        .replace(/\s*\(children \d+\)$/, '')
        .split(/\s+/);
      return { depth, node, arg: rest.join(' ').replace(/\s*\(alias .*\)$/, '') };
    });
}

/** Names the statement defines in WITH clauses, read from its normalised text. */
function withNames(syntax: string): Set<string> {
  const names = new Set<string>();
  for (const match of syntax.matchAll(/(?:\bWITH|,)\s+(`?)([A-Za-z_][A-Za-z0-9_]*)\1\s+AS\s+\(/g)) {
    if (match[2]) names.add(match[2]);
  }
  return names;
}

/**
 * Throws `sql_refused` naming the first rule the statement breaks. `ast` is ClickHouse's EXPLAIN AST
 * of the statement as sent, `syntax` its EXPLAIN SYNTAX, `tables` the names queries may read.
 */
export function checkStatement(ast: string, syntax: string, tables: ReadonlySet<string>): void {
  const lines = parseAst(ast);
  const root = lines[0];
  if (!root || !SELECT_ROOTS.has(root.node)) {
    const kind = root?.node.replace(/Query$/, '').toUpperCase() || 'this statement';
    throw refuse(`only SELECT queries are allowed; ${kind} is refused (the SQL endpoint is read-only)`);
  }
  const rootChildren = lines.filter((l) => l.depth === 1);
  if (rootChildren.length > 1)
    throw refuse(
      'FORMAT, INTO OUTFILE and SETTINGS clauses are not accepted: choose the output with "format"',
    );
  const ctes = withNames(syntax);
  for (const [i, line] of lines.entries()) {
    if (line.node === 'Set' || line.node === 'SetQuery') throw refuse('SETTINGS clauses are not accepted');
    if (line.node === 'TableIdentifier') {
      // `SELECT 1` without FROM reads system.one, which holds one row and nothing else.
      if (line.arg === 'system.one') continue;
      if (line.arg.includes('.') || !(tables.has(line.arg) || ctes.has(line.arg)))
        throw refuse(`unknown table ${line.arg}; the SQL endpoint exposes ${[...tables].sort().join(', ')}`);
    }
    if (line.node === 'Function') {
      const parent = lines
        .slice(0, i)
        .reverse()
        .find((p) => p.depth < line.depth);
      if (parent?.node === 'TableExpression')
        throw refuse(`table function ${line.arg}() is not allowed: query the metric views`);
      const name = line.arg.toLowerCase();
      if (OUTSIDE.some((pattern) => pattern.test(name)))
        throw refuse(`function ${line.arg}() is not allowed: no file, URL, dictionary or remote access`);
    }
  }
}
