// Avro schemas of the contracts, derived from their JSON Schemas (versions.ts), for producers that
// write Avro under a schema registry. Avro says less than the contract (no lengths, patterns or
// bounds): a record that decodes is still checked against the contract. Optional fields are unions
// with null and default to null, so a reader of version n + 1 reads a writer of version n (the
// rule of docs/contracts.md: a new version only adds optional fields), which is what a registry's
// BACKWARD compatibility checks.

import type { JsonSchemaNode } from './compatibility.ts';
import type { EventType } from './events.ts';
import { jsonSchemas } from './versions.ts';

export const AVRO_NAMESPACE = 'dev.tidewater.events';

export type AvroSchema =
  | string
  | readonly AvroSchema[]
  | {
      type: 'record';
      name: string;
      namespace?: string;
      fields: { name: string; type: AvroSchema; default?: null }[];
    }
  | { type: 'array'; items: AvroSchema }
  | { type: 'enum'; name: string; symbols: string[] };

export interface EventAvroSchema {
  eventType: EventType;
  version: number;
  schema: AvroSchema;
}

const AVRO_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `order.created` -> `OrderCreated`, `lines` -> `Lines`: record and enum names. */
const pascal = (text: string) =>
  text
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]?.toUpperCase() + part.slice(1))
    .join('');

/**
 * An `anyOf` whose branches other than null are scalars of one type (zod's nullable, a union of
 * string patterns): that type, and whether null is a branch. Undefined for any other node.
 */
function scalarUnion(node: JsonSchemaNode): { type: JsonSchemaNode; nullable: boolean } | undefined {
  const anyOf = node.anyOf as JsonSchemaNode[] | undefined;
  if (!Array.isArray(anyOf)) return undefined;
  const values = anyOf.filter((branch) => branch.type !== 'null');
  const types = new Set(values.map((branch) => branch.type));
  const [first] = values;
  if (first === undefined || types.size !== 1) return undefined;
  if (values.length > 1 && (first.type === 'object' || first.type === 'array')) return undefined;
  return { type: values.length === 1 ? first : { type: first.type }, nullable: values.length < anyOf.length };
}

/** The Avro type of a JSON Schema node; `name` names the records and enums it makes. */
function avroOf(node: JsonSchemaNode, name: string): AvroSchema {
  const union = scalarUnion(node);
  if (union) {
    const type = avroOf(union.type, name);
    return union.nullable ? ['null', type] : type;
  }
  const symbols = node.enum as unknown[] | undefined;
  if (Array.isArray(symbols) && symbols.every((s) => typeof s === 'string' && AVRO_NAME.test(s)))
    return { type: 'enum', name, symbols: symbols as string[] };
  switch (node.type) {
    case 'object': {
      const required = new Set(node.required ?? []);
      const fields = Object.entries(node.properties ?? {}).map(([field, schema]) => {
        const type = avroOf(schema, `${name}${pascal(field)}`);
        if (required.has(field)) return { name: field, type };
        // Optional: null first, so that the default (null) is valid for the union.
        const branches = Array.isArray(type) ? type : ['null', type];
        return { name: field, type: branches, default: null };
      });
      return { type: 'record', name, fields };
    }
    case 'array':
      return { type: 'array', items: avroOf(node.items ?? {}, `${name}Item`) };
    case 'integer':
      // Minor units and counts can pass 2^31: every integer is a long.
      return 'long';
    case 'number':
      return 'double';
    case 'boolean':
      return 'boolean';
    case 'string':
      return 'string';
    default:
      throw new Error(`${name}: no Avro type for JSON Schema ${JSON.stringify(node)}`);
  }
}

/** The Avro schema of every version of every event type, in the namespace AVRO_NAMESPACE. */
export function avroSchemas(): EventAvroSchema[] {
  return jsonSchemas().map(({ eventType, version, schema }) => {
    const record = avroOf(schema as JsonSchemaNode, pascal(eventType));
    if (typeof record !== 'object' || !('fields' in record)) throw new Error(`${eventType}: not a record`);
    return { eventType, version, schema: { ...record, namespace: AVRO_NAMESPACE } };
  });
}

/**
 * An Avro-decoded event as the contract reads it: optional fields that were null are absent (the
 * contract's optional fields take no null, and its nullable ones read absent as null does).
 */
export function fromAvro(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromAvro);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) if (field !== null) out[key] = fromAvro(field);
  return out;
}
