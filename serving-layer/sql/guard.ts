// What a user's statement may be, decided on ClickHouse's own parse of it (EXPLAIN AST of the
// engine's canonical rendering, engine.ts), by allow-lists only: a node kind, function or table
// the lists do not name is refused, so neither an unforeseen construct nor a new engine function
// gets through by default. The engine enforces the rest on its own (read-only sessions with limits,
// engine.ts); this check makes sure a refused statement never runs at all.
import { ApiError } from '../errors.ts';
import {
  AGGREGATE_COMBINATORS,
  ALLOWED_FUNCTION_GROUPS,
  ALLOWED_FUNCTIONS,
  SET_MEMBERSHIP_FUNCTIONS,
} from './functions.ts';

/** ClickHouse's codes for what a read-only user may not do, for clients that speak ClickHouse. */
export const REFUSAL_CODES = {
  statement: { clickhouseCode: 164, clickhouseName: 'READONLY' },
  access: { clickhouseCode: 497, clickhouseName: 'ACCESS_DENIED' },
  outfile: { clickhouseCode: 358, clickhouseName: 'INTO_OUTFILE_NOT_ALLOWED' },
} as const;

/** A statement refused by the rules here, before the engine ran any of it. */
export class Refusal extends ApiError {
  constructor(message: string, kind: keyof typeof REFUSAL_CODES) {
    super(400, 'sql_refused', message, REFUSAL_CODES[kind]);
  }
}

export const refuse = (message: string, kind: keyof typeof REFUSAL_CODES = 'access') =>
  new Refusal(message, kind);

/** One line of EXPLAIN AST: a node, its depth, and what follows its kind (identifier, literal, ...). */
export interface AstNode {
  depth: number;
  kind: string;
  /** The node's argument with its alias and child count taken off; '' when it has none. */
  arg: string;
}

export function parseAst(lines: readonly string[]): AstNode[] {
  return lines
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const depth = line.length - line.trimStart().length;
      const text = line.trim().replace(/ \(children \d+\)$/, '');
      const space = text.indexOf(' ');
      const kind = space < 0 ? text : text.slice(0, space);
      const arg = space < 0 ? '' : text.slice(space + 1).replace(/ \(alias .*\)$/s, '');
      return { depth, kind, arg };
    });
}

/** Node kinds a read-only SELECT is made of. Anything else (a Set of SETTINGS, an APPLY whose
 * function EXPLAIN AST does not show, a statement that is not a SELECT) is refused. */
const NODE_KINDS = new Set([
  'SelectWithUnionQuery',
  'SelectIntersectExceptQuery',
  'SelectQuery',
  'ExpressionList',
  'TablesInSelectQuery',
  'TablesInSelectQueryElement',
  'TableExpression',
  'TableIdentifier',
  'TableJoin',
  'ArrayJoin',
  'Subquery',
  'WithElement',
  'Identifier',
  'Literal',
  'Function',
  'Asterisk',
  'QualifiedAsterisk',
  'ColumnsRegexpMatcher',
  'ColumnsListMatcher',
  'QualifiedColumnsRegexpMatcher',
  'QualifiedColumnsListMatcher',
  'ColumnsTransformerList',
  'ColumnsExceptTransformer',
  'ColumnsReplaceTransformer',
  'ColumnsReplaceTransformerReplacement',
  'OrderByElement',
  'WindowDefinition',
  'WindowListElement',
  'SampleRatio',
  'InterpolateElement',
]);

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** What the engine says about its function names: aliases, and which names ignore case. */
export interface FunctionCatalog {
  aliasOf: ReadonlyMap<string, string>;
  /** Lower-cased name -> name, for the functions the engine matches case-insensitively. */
  caseInsensitive: ReadonlyMap<string, string>;
}

const AGGREGATES: ReadonlySet<string> = new Set(ALLOWED_FUNCTION_GROUPS.aggregates);

/** The allow-listed function a call names, through the engine's aliases and case rules, or undefined. */
export function allowedFunction(name: string, catalog: FunctionCatalog, depth = 0): string | undefined {
  if (depth > 8) return undefined;
  if (ALLOWED_FUNCTIONS.has(name)) return name;
  const alias = catalog.aliasOf.get(name) ?? catalog.caseInsensitive.get(name.toLowerCase());
  if (alias !== undefined && alias !== name) return allowedFunction(alias, catalog, depth + 1);
  for (const combinator of AGGREGATE_COMBINATORS) {
    if (!name.endsWith(combinator) || name.length === combinator.length) continue;
    const base = allowedFunction(name.slice(0, -combinator.length), catalog, depth + 1);
    if (base !== undefined && AGGREGATES.has(base)) return base;
  }
  return undefined;
}

export interface StatementRules {
  /** The database bare table names resolve in (the session's current database). */
  database: string;
  /** Tables of `database` the caller may read; a bare name outside it is refused unless the
   * statement defines names of its own (WITH), which the engine then resolves in `database`. */
  tables: ReadonlySet<string>;
  /** Other databases whose tables the caller may name qualified (`db.table`). */
  otherDatabases?: ReadonlySet<string>;
  /** Whether `{name:Type}` query parameters may appear (the values are bound by the engine). */
  parameters?: boolean;
}

/** The rules as plain data, for keys: a Set would serialize as {} and make all rules look alike. */
export function rulesIdentity(rules: StatementRules): unknown {
  return {
    database: rules.database,
    tables: [...rules.tables].sort(),
    otherDatabases: [...(rules.otherDatabases ?? [])].sort(),
    parameters: rules.parameters ?? false,
  };
}

function checkTable(name: string, rules: StatementRules, hasWith: boolean): void {
  const parts = name.split('.');
  const known = () => [...rules.tables].sort().join(', ');
  if (parts.length === 1 && NAME.test(name)) {
    if (rules.tables.has(name) || hasWith) return;
    throw refuse(`unknown table ${name}; the SQL endpoint exposes ${known()}`);
  }
  const [database = '', table = ''] = parts;
  if (parts.length === 2 && NAME.test(database) && NAME.test(table)) {
    if (database === rules.database && rules.tables.has(table)) return;
    if (rules.otherDatabases?.has(database)) return;
  }
  throw refuse(`table ${name} is not readable here; the SQL endpoint exposes ${known()}`);
}

/**
 * Throws `sql_refused` naming the first rule the statement breaks. `ast` is EXPLAIN AST of the
 * statement the engine will run, one entry per node.
 */
export function checkStatement(
  ast: readonly AstNode[],
  rules: StatementRules,
  catalog: FunctionCatalog,
): void {
  const root = ast[0];
  if (root?.kind !== 'SelectWithUnionQuery') {
    const kind = root?.kind.replace(/Query$/, '').toUpperCase() || 'this statement';
    throw refuse(
      `only SELECT queries are allowed; ${kind} is refused (the SQL endpoint is read-only)`,
      'statement',
    );
  }
  // INTO OUTFILE, FORMAT and SETTINGS of the statement are further children of the root.
  if (ast.filter((n) => n.depth === 1).length > 1)
    throw refuse(
      'FORMAT, INTO OUTFILE and SETTINGS clauses are not accepted: the endpoint chooses the output',
    );
  const hasWith = ast.some((n) => n.kind === 'WithElement');
  const parentOf = (i: number) => {
    const depth = ast[i]?.depth ?? 0;
    for (let j = i - 1; j >= 0; j--) if ((ast[j]?.depth ?? 0) < depth) return ast[j];
    return undefined;
  };
  for (const [i, node] of ast.entries()) {
    if (node.kind === 'QueryParameter' && rules.parameters) continue;
    if (node.kind === 'Set') throw refuse('SETTINGS clauses are not accepted', 'statement');
    if (!NODE_KINDS.has(node.kind))
      throw refuse(`${node.kind} is not allowed in a statement of the SQL endpoint`);
    if (node.kind === 'TableIdentifier') checkTable(node.arg, rules, hasWith);
    if (node.kind !== 'Function') continue;
    if (parentOf(i)?.kind === 'TableExpression')
      throw refuse(`table function ${node.arg}() is not allowed: query the metric tables`);
    const name = node.arg;
    const allowed = NAME.test(name) ? allowedFunction(name, catalog) : undefined;
    if (allowed === undefined)
      throw refuse(`function ${name}() is not allowed in the SQL endpoint (only pure functions are)`);
    // `x IN t` reads table t: its name follows the FROM rules. The right side is the second
    // child of the function's argument list.
    if (SET_MEMBERSHIP_FUNCTIONS.has(allowed)) {
      const args = ast[i + 1];
      const argDepth = node.depth + 2;
      const operands: AstNode[] = [];
      for (let j = i + 2; j < ast.length && (ast[j]?.depth ?? 0) >= argDepth; j++)
        if (ast[j]?.depth === argDepth) operands.push(ast[j] as AstNode);
      const right = operands[1];
      if (args?.kind === 'ExpressionList' && right?.kind === 'Identifier')
        checkTable(right.arg, rules, hasWith);
    }
  }
}
