// The one wire format of the quarantine topic. Bytes travel as base64 so that a record that was
// not valid UTF-8 (or not text at all) survives JSON byte for byte.
import { z } from 'zod';
import { MAX_EVENT_BYTES } from '../../contracts/index.ts';
import type { OutgoingRecord } from '../../kafka/index.ts';
import type { RejectedRecord } from '../types.ts';

const bytes = z.base64().nullable();

/** Milliseconds either side of the epoch that a JS Date (and the table's timestamp) holds. */
export const MAX_TIME_MS = 8.64e15;

export const QuarantineMessage = z.object({
  sourceTopic: z.string().min(1),
  // Kafka's partitions are 32-bit, as the table's column.
  sourcePartition: z
    .int()
    .nonnegative()
    .max(2 ** 31 - 1),
  sourceOffset: z.string().regex(/^\d+$/, 'expected a decimal offset'),
  sourceKey: bytes,
  sourceTimestamp: z.int().min(-MAX_TIME_MS).max(MAX_TIME_MS),
  /**
   * Null only when the source message itself had no value (a tombstone), which is not the same as
   * empty. At most MAX_QUARANTINED_BYTES of it (so is the key).
   */
  original: bytes,
  eventId: z.string().optional(),
  eventType: z.string().optional(),
  eventTime: z.string().optional(),
  ruleIds: z.array(z.string()).min(1),
  failures: z
    .array(z.object({ ruleId: z.string(), severity: z.enum(['quarantine', 'warn']), message: z.string() }))
    .min(1),
  rejectedAt: z.iso.datetime(),
});
export type QuarantineMessage = z.infer<typeof QuarantineMessage>;

/**
 * Most bytes of a source key or value a quarantine message keeps. Only a record refused for its size
 * (over MAX_EVENT_BYTES; its reason gives the size) can be longer, and it can never pass a replay:
 * its first bytes are enough to tell what it was, and the message stays far below what a broker
 * takes (message.max.bytes, 1 MB by default), which a whole 1 MB record in base64 would not.
 */
export const MAX_QUARANTINED_BYTES = 4 * MAX_EVENT_BYTES;

const toBase64 = (b: Buffer | null): string | null =>
  b === null ? null : b.subarray(0, MAX_QUARANTINED_BYTES).toString('base64');
const fromBase64 = (s: string | null): Buffer | null => (s === null ? null : Buffer.from(s, 'base64'));

/** Source coordinates as one id: what `show` and the replay ledger know a record by. */
export const sourceId = (topic: string, partition: number, offset: string): string =>
  `${topic}:${partition}:${offset}`;

/** eventId when the bytes revealed one, so a record's quarantine entries share a partition. */
export function quarantineKey(record: RejectedRecord): string {
  const { topic, partition, offset } = record.source;
  return record.eventId ?? sourceId(topic, partition, offset);
}

export function encodeQuarantine(record: RejectedRecord): OutgoingRecord {
  const { source } = record;
  const message: QuarantineMessage = {
    sourceTopic: source.topic,
    sourcePartition: source.partition,
    sourceOffset: source.offset,
    sourceKey: toBase64(source.key),
    sourceTimestamp: source.timestamp,
    original: toBase64(source.value),
    eventId: record.eventId,
    eventType: record.eventType,
    eventTime: record.eventTime,
    ruleIds: [...new Set(record.failures.map((f) => f.ruleId))],
    failures: record.failures,
    rejectedAt: new Date(record.rejectedAt).toISOString(),
  };
  return { key: quarantineKey(record), value: JSON.stringify(message) };
}

/** Parses and validates a quarantine topic value; throws naming what is wrong. */
export function parseQuarantineValue(value: Buffer | null): QuarantineMessage {
  if (value === null) throw new Error('quarantine message has no value');
  return QuarantineMessage.parse(JSON.parse(value.toString('utf8')));
}

export function decodeQuarantine(value: Buffer | null): RejectedRecord {
  const m = parseQuarantineValue(value);
  return {
    source: {
      topic: m.sourceTopic,
      partition: m.sourcePartition,
      offset: m.sourceOffset,
      key: fromBase64(m.sourceKey),
      value: fromBase64(m.original),
      timestamp: m.sourceTimestamp,
    },
    eventId: m.eventId,
    eventType: m.eventType,
    eventTime: m.eventTime,
    failures: m.failures,
    rejectedAt: Date.parse(m.rejectedAt),
  };
}
