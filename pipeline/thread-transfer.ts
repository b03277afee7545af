// Records across a thread boundary. A batch's keys and values are copied into one buffer that is
// moved, not cloned, to the gate thread (one memcpy, no per-record serialisation). Rejected records
// come back with their own small copies of key and value: a view into the batch buffer would make
// the structured clone copy the whole buffer for each of them.
import type { RawMessage, RejectedRecord } from '../quality/index.ts';

export interface PackedBatch {
  topic: string;
  partition: number;
  offsets: Float64Array;
  timestamps: Float64Array;
  /** Per record: key start, key length, value start, value length; a length of -1 is null. */
  spans: Int32Array;
  bytes: Uint8Array;
}

/** A batch of one partition, and the buffers to move with it. */
export function packBatch(batch: readonly RawMessage[]): { packed: PackedBatch; transfer: ArrayBuffer[] } {
  const n = batch.length;
  let size = 0;
  for (const { key, value } of batch) size += (key?.byteLength ?? 0) + (value?.byteLength ?? 0);
  const offsets = new Float64Array(n);
  const timestamps = new Float64Array(n);
  const spans = new Int32Array(n * 4);
  const bytes = new Uint8Array(size);
  let at = 0;
  const put = (buffer: Buffer | null, slot: number) => {
    if (buffer === null) {
      spans[slot + 1] = -1;
      return;
    }
    spans[slot] = at;
    spans[slot + 1] = buffer.byteLength;
    bytes.set(buffer, at);
    at += buffer.byteLength;
  };
  for (let i = 0; i < n; i++) {
    const message = batch[i] as RawMessage;
    offsets[i] = Number(message.offset);
    timestamps[i] = message.timestamp;
    put(message.key, i * 4);
    put(message.value, i * 4 + 2);
  }
  const first = batch[0];
  return {
    packed: {
      topic: first?.topic ?? '',
      partition: first?.partition ?? -1,
      offsets,
      timestamps,
      spans,
      bytes,
    },
    transfer: [offsets.buffer, timestamps.buffer, spans.buffer, bytes.buffer] as ArrayBuffer[],
  };
}

/** The batch again, its keys and values views into the moved buffer. */
export function unpackBatch({
  topic,
  partition,
  offsets,
  timestamps,
  spans,
  bytes,
}: PackedBatch): RawMessage[] {
  const view = (slot: number): Buffer | null => {
    const length = spans[slot + 1] as number;
    return length < 0 ? null : Buffer.from(bytes.buffer, bytes.byteOffset + (spans[slot] as number), length);
  };
  const batch: RawMessage[] = new Array(offsets.length);
  for (let i = 0; i < offsets.length; i++) {
    batch[i] = {
      topic,
      partition,
      offset: String(offsets[i]),
      key: view(i * 4),
      value: view(i * 4 + 2),
      timestamp: timestamps[i] as number,
    };
  }
  return batch;
}

/** A copy with an ArrayBuffer of its own (Buffer.from may place a small one in the shared pool). */
const ownCopy = (buffer: Buffer | null): Buffer | null =>
  buffer === null ? null : Buffer.from(new Uint8Array(buffer).buffer);

/** Rejected records whose keys and values no longer share the batch buffer. */
export function detachRejected(records: readonly RejectedRecord[]): RejectedRecord[] {
  return records.map((r) => ({
    ...r,
    source: { ...r.source, key: ownCopy(r.source.key), value: ownCopy(r.source.value) },
  }));
}

/** Structured cloning turns Buffers into plain Uint8Arrays: make them Buffers again (no copy). */
export function reviveRejected(records: readonly RejectedRecord[]): RejectedRecord[] {
  const revive = (bytes: Uint8Array | null): Buffer | null =>
    bytes === null ? null : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return records.map((r) => ({
    ...r,
    source: { ...r.source, key: revive(r.source.key), value: revive(r.source.value) },
  }));
}

/** ArrayBuffers of the views at the top level of `value` that own their whole buffer: moved, not cloned. */
export function ownedBuffers(value: unknown): ArrayBuffer[] {
  if (value === null || typeof value !== 'object') return [];
  const buffers: ArrayBuffer[] = [];
  for (const field of Object.values(value)) {
    if (
      ArrayBuffer.isView(field) &&
      field.buffer instanceof ArrayBuffer &&
      field.byteOffset === 0 &&
      field.byteLength === field.buffer.byteLength
    )
      buffers.push(field.buffer);
  }
  return buffers;
}
