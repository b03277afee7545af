// The contract check of the gate. zod is where contracts are written and what names the failing
// field; the hot path runs the same contracts compiled by ajv from their exported JSON Schema, and
// falls back to zod for every record ajv refuses, so zod has the last word on each rejection.
//
// Where the two could disagree, ajv is configured to give zod's verdict:
// - string lengths: both count code points, not UTF-16 units (checked with astral characters), and
//   only where the UTF-16 length leaves the verdict open (LENGTH_KEYWORDS).
// - uuid: zod exports its regex as `pattern`; where it is the regex isZodUuid implements, the
//   compiled schema checks the `uuid` format with isZodUuid instead (the regex took ~200 ns a
//   record, a third of the compiled check). Other formats are not validated (ajv's `format`
//   definitions are not zod's); their `pattern` stays, compiled as zod does (`unicodeRegExp: false`).
// - integers: the schema bounds them by +-2^53-1, so ajv's `integer` rejects what z.int() rejects.
// - unknown keys: zod strips them; `removeAdditional: 'all'` strips them, so both yield the same event.
// test/quality-gate.test.ts checks agreement on generated good and bad records and on these cases.
import { _, Ajv2020, type CodeKeywordDefinition, type ValidateFunction } from 'ajv/dist/2020.js';
import { z } from 'zod';
import { CURRENT_VERSIONS, describeIssues, jsonSchemas, TidewaterEvent } from '../contracts/index.ts';
import { isZodUuid, ZOD_UUID_PATTERN } from './uuid.ts';

export type ContractEngine = 'compiled' | 'zod';

/** Why a record broke its contract: one `path: reason` line per issue, from zod. */
export class ContractViolation {
  constructor(readonly issues: readonly string[]) {}
}

/** Parsed JSON to the validated event (unknown keys stripped), or the violation. */
export type ContractCheck = (json: unknown) => TidewaterEvent | ContractViolation;

function zodCheck(json: unknown): TidewaterEvent | ContractViolation {
  const result = TidewaterEvent.safeParse(json);
  return result.success ? result.data : new ContractViolation(describeIssues(result.error));
}

/** Compiling takes ~150 ms and the contracts are fixed for the process: do it once. */
let compiled: ReadonlyMap<string, ValidateFunction> | undefined;

/** Formats checked by code that matches exactly the zod regex it replaces. */
const FORMATS: Readonly<Record<string, { pattern: string; validate: (text: string) => boolean }>> = {
  uuid: { pattern: ZOD_UUID_PATTERN, validate: isZodUuid },
};

/**
 * A copy of the schema that checks `format` instead of `pattern` where FORMATS has zod's regex,
 * and keeps the `pattern` of any other format. (`format` is a keyword only as a string: in a
 * `properties` map it would be a field's schema.)
 */
function withFormats(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withFormats);
  if (node === null || typeof node !== 'object') return node;
  const copy = Object.fromEntries(Object.entries(node).map(([key, value]) => [key, withFormats(value)]));
  const { format, pattern } = copy;
  if (typeof format !== 'string') return copy;
  if (FORMATS[format]?.pattern === pattern) delete copy.pattern;
  else delete copy.format;
  return copy;
}

/**
 * minLength and maxLength in code points, counted by zod's own function, and only when the UTF-16
 * length leaves the verdict open (a string has between length / 2 and length code points): ajv's
 * versions count every string, twice.
 */
const LENGTH_KEYWORDS: readonly (CodeKeywordDefinition & { keyword: string })[] = [
  {
    keyword: 'maxLength',
    type: 'string',
    schemaType: 'number',
    code(cxt) {
      const count = cxt.gen.scopeValue('func', { ref: z.core.util.codePointLength });
      cxt.fail(_`${cxt.data}.length > ${cxt.schema} && ${count}(${cxt.data}) > ${cxt.schema}`);
    },
  },
  {
    keyword: 'minLength',
    type: 'string',
    schemaType: 'number',
    code(cxt) {
      const count = cxt.gen.scopeValue('func', { ref: z.core.util.codePointLength });
      const surely = 2 * (cxt.schema as number) - 1;
      cxt.fail(_`${cxt.data}.length < ${surely} && ${count}(${cxt.data}) < ${cxt.schema}`);
    },
  },
];

function compileLatest(): ReadonlyMap<string, ValidateFunction> {
  const ajv = new Ajv2020({
    removeAdditional: 'all',
    unicodeRegExp: false,
    formats: Object.fromEntries(Object.entries(FORMATS).map(([name, { validate }]) => [name, validate])),
  });
  for (const definition of LENGTH_KEYWORDS) {
    ajv.removeKeyword(definition.keyword);
    ajv.addKeyword(definition);
  }
  const validators = new Map<string, ValidateFunction>();
  for (const { eventType, version, schema } of jsonSchemas()) {
    if (version === CURRENT_VERSIONS[eventType]) {
      validators.set(eventType, ajv.compile(withFormats(schema) as object));
    }
  }
  return validators;
}

/**
 * The ajv verdict alone: true when the compiled latest schema of the record's eventType accepts it
 * (stripping unknown keys in place). Exported so tests can hold it against zod's.
 */
export function compiledContract(): (json: unknown) => boolean {
  compiled ??= compileLatest();
  const validators = compiled;
  return (json) => {
    const eventType = (json as { eventType?: unknown } | null)?.eventType;
    const validate = typeof eventType === 'string' ? validators.get(eventType) : undefined;
    return validate?.(json) === true;
  };
}

export function contractCheck(engine: ContractEngine): ContractCheck {
  if (engine === 'zod') return zodCheck;
  const accepts = compiledContract();
  return (json) => (accepts(json) ? (json as TidewaterEvent) : zodCheck(json));
}
