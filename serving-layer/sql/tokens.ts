// The engine's own lexer over a canonical statement (tokenizeQuery), for the few places the
// ClickHouse interface edits a statement: taking off its FORMAT and SETTINGS clauses, and pointing
// `system.<table>` at the filtered views. Edits happen only at token boundaries the engine drew, and
// every edited statement is parsed and checked again from the start before anything runs.
import type { ClickHouseClient } from '@clickhouse/client';
import { jsonRows } from './sessions.ts';

export interface Token {
  type: string;
  text: string;
  begin: number;
  end: number;
}

/** The tokens of `statement`, whitespace and comments left out; offsets count UTF-8 bytes. */
export async function tokenize(local: ClickHouseClient, statement: string): Promise<Token[]> {
  const [row] = await jsonRows<{ tokens: { begin: number; end: number; type: string }[] }>(
    local,
    'SELECT tokenizeQuery({statement:String}) AS tokens',
    { statement },
  );
  const bytes = Buffer.from(statement);
  return (row?.tokens ?? [])
    .filter((t) => t.type !== 'Whitespace' && t.type !== 'Comment')
    .map((t) => ({ ...t, text: bytes.subarray(t.begin, t.end).toString() }));
}

/** Replaces the bytes [begin, end) of `statement` with `text`. */
export function splice(statement: string, begin: number, end: number, text: string): string {
  const bytes = Buffer.from(statement);
  return Buffer.concat([bytes.subarray(0, begin), Buffer.from(text), bytes.subarray(end)]).toString();
}

const ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '0': '\0',
  b: '\b',
  f: '\f',
  '\\': '\\',
  "'": "'",
};

/** The value of a ClickHouse string literal token ('...', backslash escapes, '' for a quote). */
export function unquote(literal: string): string {
  const body = literal.slice(1, -1);
  return body.replace(
    /\\x([0-9A-Fa-f]{2})|\\(.)|''/gs,
    (all, hex: string | undefined, c: string | undefined) => {
      if (hex !== undefined) return String.fromCharCode(Number.parseInt(hex, 16));
      if (c !== undefined) return ESCAPES[c] ?? c;
      return all === "''" ? "'" : all;
    },
  );
}

/** The name an identifier token stands for (bare or quoted with backticks or double quotes). */
export function identifier(token: Token | undefined): string | undefined {
  if (token?.type === 'BareWord') return token.text;
  if (token?.type === 'QuotedIdentifier') return unquote(token.text);
  return undefined;
}
