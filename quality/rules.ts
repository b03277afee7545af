// Expectation rules as data, and the one evaluator that interprets them. A rule names a field by
// path (`payload.lines[*].productId`, `*` = every element) and a kind with its parameters; only
// checks that no kind expresses (order arithmetic) are written as code, as `custom` rules.
import type { Dimensions, TidewaterEvent } from '../contracts/index.ts';
import type { Severity } from './types.ts';

type Scalar = string | number | boolean;

/** A reference table a field must point into. `locations` = stores and fulfilment centres. */
export type DimensionRef = 'products' | 'stores' | 'locations';

interface RuleHead {
  /** Stable id (`order.total_matches_lines`), the key of reports, metrics and quarantine reasons. */
  id: string;
  severity: Severity;
  /** The failed predicate, phrased to follow the offending value: `is not in the product dimension`. */
  message: string;
  /** Apply the rule only to events whose field equals the value. */
  when?: { field: string; equals: Scalar };
}

export type Rule = RuleHead &
  (
    | { kind: 'not_null'; field: string }
    | { kind: 'range'; field: string; min?: number; max?: number }
    | { kind: 'in_set'; field: string; values: readonly Scalar[] }
    | { kind: 'pattern'; field: string; pattern: RegExp }
    | { kind: 'exists_in'; field: string; dimension: DimensionRef }
    /** Event time no later than arrival plus the gate's clock-skew allowance. */
    | { kind: 'freshness' }
    /** Returns one `path: reason` line per violation, or nothing. */
    | { kind: 'custom'; check: (event: TidewaterEvent) => string | undefined }
  );

/** What a rule may consult besides the event; the gate fills the per-record fields. */
export interface RuleContext {
  dimensions: Readonly<Record<DimensionRef, ReadonlySet<string>>>;
  readonly clockSkewMs: number;
  arrivalMs: number;
  eventTimeMs: number;
}

// A gate per HTTP ingest request would otherwise rebuild these sets (thousands of ids) each time;
// dimension tables are loaded as new objects, so a refreshed table gets new sets.
const setsOf = new WeakMap<Dimensions, RuleContext['dimensions']>();

export function dimensionSets(dimensions: Dimensions): RuleContext['dimensions'] {
  const known = setsOf.get(dimensions);
  if (known) return known;
  const stores = dimensions.stores.map((store) => store.storeId);
  const sets = {
    products: new Set(dimensions.products.map((product) => product.productId)),
    stores: new Set(stores),
    locations: new Set([...stores, ...dimensions.fulfilmentCentres.map((fc) => fc.fulfilmentCentreId)]),
  };
  setsOf.set(dimensions, sets);
  return sets;
}

const WILDCARD = '*';
type Segment = string | typeof WILDCARD;

/** `payload.lines[*].productId` -> ['payload', 'lines', '*', 'productId']. */
function parsePath(path: string): Segment[] {
  return path
    .replace(/\[\*\]/g, '.*')
    .split('.')
    .filter((segment) => segment !== '');
}

export interface CompiledRule {
  rule: Rule;
  field: Segment[];
  when: { field: Segment[]; equals: Scalar } | undefined;
  set: ReadonlySet<Scalar> | undefined;
}

export function compileRule(rule: Rule): CompiledRule {
  return {
    rule,
    field: 'field' in rule ? parsePath(rule.field) : [],
    when: rule.when && { field: parsePath(rule.when.field), equals: rule.when.equals },
    set: rule.kind === 'in_set' ? new Set(rule.values) : undefined,
  };
}

/** Follows a path without wildcards; undefined when any step is missing. */
function valueAt(root: unknown, path: readonly Segment[]): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function passes(compiled: CompiledRule, value: unknown, context: RuleContext): boolean {
  const { rule } = compiled;
  if (rule.kind === 'not_null') return value !== null && value !== undefined;
  // Absent optional fields are the business of not_null rules (and of the contract).
  if (value === null || value === undefined) return true;
  switch (rule.kind) {
    case 'range':
      return (
        typeof value === 'number' &&
        (rule.min === undefined || value >= rule.min) &&
        (rule.max === undefined || value <= rule.max)
      );
    case 'in_set':
      return compiled.set?.has(value as Scalar) === true;
    case 'pattern':
      return typeof value === 'string' && rule.pattern.test(value);
    case 'exists_in':
      return typeof value === 'string' && context.dimensions[rule.dimension].has(value);
    default:
      throw new Error(`rule ${rule.id}: kind ${rule.kind} has no field`);
  }
}

function shown(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 64 ? `${json.slice(0, 61)}...` : json;
}

/** Path with the wildcards replaced by the indexes being visited. */
function concretePath(field: readonly Segment[], indexes: readonly number[]): string {
  let out = '';
  let next = 0;
  for (const segment of field) {
    out += segment === WILDCARD ? `[${indexes[next++]}]` : out === '' ? segment : `.${segment}`;
  }
  return out;
}

// Reused across calls: the evaluator is synchronous and only reads it while formatting a failure.
const indexes: number[] = [];

/** Visits every value the path reaches (arrays under `*`), appending a failure line per miss. */
function checkField(
  compiled: CompiledRule,
  node: unknown,
  depth: number,
  context: RuleContext,
  lines: string[] | undefined,
): string[] | undefined {
  const { field } = compiled;
  let value = node;
  for (let i = depth; i < field.length; i++) {
    if (field[i] === WILDCARD) {
      if (!Array.isArray(value)) return lines;
      let out = lines;
      for (let index = 0; index < value.length; index++) {
        indexes.push(index);
        out = checkField(compiled, value[index], i + 1, context, out);
        indexes.pop();
      }
      return out;
    }
    value =
      value === null || typeof value !== 'object'
        ? undefined
        : (value as Record<string, unknown>)[field[i] as string];
  }
  if (passes(compiled, value, context)) return lines;
  const line = `${concretePath(field, indexes)}: ${shown(value)} ${compiled.rule.message}`;
  if (lines) lines.push(line);
  return lines ?? [line];
}

/** Failure message of one rule on one event, or undefined when the rule holds. */
export function evaluate(
  compiled: CompiledRule,
  event: TidewaterEvent,
  context: RuleContext,
): string | undefined {
  const { rule, when } = compiled;
  if (when && valueAt(event, when.field) !== when.equals) return undefined;
  switch (rule.kind) {
    case 'custom':
      return rule.check(event);
    case 'freshness':
      return context.eventTimeMs - context.arrivalMs > context.clockSkewMs
        ? `eventTime: ${event.eventTime} ${rule.message} (arrived ${new Date(context.arrivalMs).toISOString()})`
        : undefined;
    default:
      return checkField(compiled, event, 0, context, undefined)?.join('; ');
  }
}
