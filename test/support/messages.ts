// Generated records as the Kafka messages a gate reads (one partition, offsets from 0), adding each
// to the ground truth when one is given.
import type { GeneratedRecord, GroundTruth } from '../../generator/index.ts';
import type { RawMessage } from '../../quality/index.ts';

export function asMessages(records: Iterable<GeneratedRecord>, truth?: GroundTruth): RawMessage[] {
  return [...records].map((record, i) => {
    truth?.add(record);
    return {
      topic: 'events',
      partition: 0,
      offset: String(i),
      key: Buffer.from(record.key),
      value: record.value,
      timestamp: Date.now(),
    };
  });
}
