// The contract check of the gate. zod is where contracts are written and what names the failing
// field; the hot path runs the same contracts compiled by ajv from their exported JSON Schema, and
// falls back to zod for every record ajv refuses, so zod has the last word on each rejection.
//
// Where the two could disagree, ajv is configured to be at least as strict as zod:
// - string lengths: both count code points, not UTF-16 units (checked with astral characters).
// - uuid and date-time: zod exports its own regexes as `pattern`, so formats are not validated
//   (ajv's `format` definitions are not zod's); `unicodeRegExp: false` compiles them as zod does.
// - integers: the schema bounds them by +-2^53-1, so ajv's `integer` rejects what z.int() rejects.
// - unknown keys: zod strips them; `removeAdditional: 'all'` strips them, so both yield the same event.
// test/quality-gate.test.ts checks agreement on generated good and bad records and on these cases.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { CURRENT_VERSIONS, describeIssues, jsonSchemas, TidewaterEvent } from '../contracts/index.ts';

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

function compileLatest(): ReadonlyMap<string, ValidateFunction> {
  const ajv = new Ajv2020({ removeAdditional: 'all', validateFormats: false, unicodeRegExp: false });
  const validators = new Map<string, ValidateFunction>();
  for (const { eventType, version, schema } of jsonSchemas()) {
    if (version === CURRENT_VERSIONS[eventType]) validators.set(eventType, ajv.compile(schema));
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
