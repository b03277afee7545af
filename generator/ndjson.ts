import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { GeneratedRecord } from './generate.ts';

/** Bytes gathered before one write: one syscall per chunk rather than per record. */
const CHUNK_BYTES = 64 * 1024;
const NEWLINE = Buffer.from('\n');

/**
 * Writes each record's value as one line (values never contain a raw newline) and honours
 * backpressure. Takes records in chunks (as `paced` yields them). Leaves the stream open, since it
 * may be stdout. Resolves to the record count.
 */
export async function writeNdjson(
  chunks: Iterable<GeneratedRecord[]> | AsyncIterable<GeneratedRecord[]>,
  stream: Writable,
): Promise<number> {
  let count = 0;
  let chunk: Buffer[] = [];
  let size = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    const ok = stream.write(Buffer.concat(chunk, size));
    chunk = [];
    size = 0;
    if (!ok) await once(stream, 'drain');
  };
  for await (const records of chunks) {
    for (const record of records) {
      chunk.push(record.value, NEWLINE);
      size += record.value.length + 1;
      count++;
      if (size >= CHUNK_BYTES) await flush();
    }
  }
  await flush();
  return count;
}
