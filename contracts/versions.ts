// Payload versions per event type. A type without an entry in HISTORY has only version 1.
// The rule (docs/contracts.md): a new version may only add optional fields.
import { z } from 'zod';
import { EVENT_SCHEMAS, EVENT_TYPES, type EventType, eventSchema, PageViewPayloadV1 } from './events.ts';

const HISTORY: Partial<Record<EventType, readonly z.ZodObject[]>> = {
  'page.view': [PageViewPayloadV1, EVENT_SCHEMAS['page.view'].shape.payload],
};

/** Payload schemas of a type, oldest first: version n is element n - 1. */
export function payloadVersions(eventType: EventType): readonly z.ZodObject[] {
  return HISTORY[eventType] ?? [EVENT_SCHEMAS[eventType].shape.payload];
}

/** The version producers write today (`metadata.schemaVersion`), per event type. */
export const CURRENT_VERSIONS = Object.fromEntries(
  EVENT_TYPES.map((type) => [type, payloadVersions(type).length]),
) as Readonly<Record<EventType, number>>;

/** The full event schema as it stood at one version of the type's payload. */
export function eventSchemaAt(eventType: EventType, version: number) {
  const payload = payloadVersions(eventType)[version - 1];
  if (!payload) throw new RangeError(`${eventType} has no schema version ${version}`);
  return eventSchema(eventType, payload);
}

export interface EventJsonSchema {
  eventType: EventType;
  version: number;
  schema: z.core.JSONSchema.JSONSchema;
}

/**
 * JSON Schema of every version of every type. `io: 'input'` describes what producers may send:
 * unknown keys are allowed (they are stripped on read), which is what keeps old readers working
 * when a newer producer adds an optional field.
 */
export function jsonSchemas(): EventJsonSchema[] {
  return EVENT_TYPES.flatMap((eventType) =>
    payloadVersions(eventType).map((_, index) => ({
      eventType,
      version: index + 1,
      schema: z.toJSONSchema(eventSchemaAt(eventType, index + 1), { io: 'input' }),
    })),
  );
}
