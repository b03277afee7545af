// The FORMAT and SETTINGS clauses a ClickHouse client puts after its SELECT, taken off the
// engine's canonical rendering so the query alone can go through the usual checks: the interface
// then writes the answer in that format and caps the settings it knows (clickhouse-http/settings.ts).
import { identifier, type Token, unquote } from './tokens.ts';

export interface OutputClauses {
  /** The statement without its trailing clauses. */
  query: string;
  format?: string;
  settings: Map<string, string>;
}

const isKeyword = (token: Token | undefined, word: string) =>
  token?.type === 'BareWord' && token.text.toUpperCase() === word;

const OPENING = new Set(['OpeningRoundBracket', 'OpeningSquareBracket', 'OpeningCurlyBrace']);
const CLOSING = new Set(['ClosingRoundBracket', 'ClosingSquareBracket', 'ClosingCurlyBrace']);

function settingValue(token: Token | undefined): string | undefined {
  if (token?.type === 'Number') return token.text;
  if (token?.type === 'StringLiteral') return unquote(token.text);
  if (token?.type === 'BareWord' && /^(true|false)$/i.test(token.text)) return token.text.toLowerCase();
  return undefined;
}

/** Parses tokens[from..] as `FORMAT name` and `SETTINGS a = v, ...` clauses in any order, or undefined. */
function parseTail(tokens: readonly Token[], from: number): Omit<OutputClauses, 'query'> | undefined {
  const out: Omit<OutputClauses, 'query'> = { settings: new Map() };
  let i = from;
  while (i < tokens.length) {
    if (isKeyword(tokens[i], 'FORMAT') && out.format === undefined) {
      const name = identifier(tokens[i + 1]);
      if (name === undefined) return undefined;
      out.format = name;
      i += 2;
    } else if (isKeyword(tokens[i], 'SETTINGS') && out.settings.size === 0) {
      i++;
      for (;;) {
        const name = identifier(tokens[i]);
        const value = settingValue(tokens[i + 2]);
        if (name === undefined || tokens[i + 1]?.type !== 'Equals' || value === undefined) return undefined;
        out.settings.set(name, value);
        i += 3;
        if (tokens[i]?.type !== 'Comma') break;
        i++;
      }
    } else return undefined;
  }
  return out;
}

/**
 * Splits the canonical `statement` (its `tokens` from the engine) before its trailing FORMAT and
 * SETTINGS clauses, or returns undefined when its end does not parse as such clauses. The caller
 * checks the query that remains from the start, as it checks any statement.
 */
export function splitOutputClauses(statement: string, tokens: readonly Token[]): OutputClauses | undefined {
  let depth = 0;
  for (const [i, token] of tokens.entries()) {
    if (OPENING.has(token.type)) depth++;
    else if (CLOSING.has(token.type)) depth--;
    else if (depth === 0 && (isKeyword(token, 'FORMAT') || isKeyword(token, 'SETTINGS'))) {
      const tail = parseTail(tokens, i);
      if (tail)
        return { query: Buffer.from(statement).subarray(0, token.begin).toString().trimEnd(), ...tail };
    }
  }
  return undefined;
}
