// Checks the versioning rule on JSON Schemas, so it also applies to schemas written by hand.
import { isDeepStrictEqual } from 'node:util';

export interface JsonSchemaNode {
  properties?: Record<string, JsonSchemaNode>;
  required?: string[];
  items?: JsonSchemaNode;
  [keyword: string]: unknown;
}

/**
 * Ways in which `next` breaks readers of `previous`; empty when `next` only adds optional
 * properties. Recurses through object properties and array items; every other keyword
 * (type, format, bounds, enums) must be unchanged.
 */
export function compatibilityViolations(
  previous: JsonSchemaNode,
  next: JsonSchemaNode,
  path = '(root)',
): string[] {
  const {
    properties: before = {},
    required: requiredBefore = [],
    items: itemsBefore,
    ...restBefore
  } = previous;
  const { properties: after = {}, required: requiredAfter = [], items: itemsAfter, ...restAfter } = next;
  const violations = isDeepStrictEqual(restBefore, restAfter) ? [] : [`${path}: changed`];
  for (const name of requiredAfter) {
    if (!requiredBefore.includes(name)) violations.push(`${path}.${name}: newly required`);
  }
  for (const name of requiredBefore) {
    if (!requiredAfter.includes(name)) violations.push(`${path}.${name}: no longer required`);
  }
  for (const [name, schema] of Object.entries(before)) {
    const nextSchema = after[name];
    if (nextSchema) violations.push(...compatibilityViolations(schema, nextSchema, `${path}.${name}`));
    else violations.push(`${path}.${name}: removed`);
  }
  if (itemsBefore && itemsAfter)
    violations.push(...compatibilityViolations(itemsBefore, itemsAfter, `${path}[]`));
  else if (itemsBefore || itemsAfter) violations.push(`${path}[]: changed`);
  return violations;
}
