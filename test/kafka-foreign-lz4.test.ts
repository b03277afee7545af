// Kafka's own Java client (kafka-clients 3.9.1 from Maven Central) produces LZ4 batches, large and
// small, and the platform's kafkajs reads every record back byte for byte: its frames take the block
// path of kafka/lz4.ts, and each one decodes there exactly as lz4-napi's frame decoder reads it.
import { randomUUID } from 'node:crypto';
import { decompressFrameSync } from 'lz4-napi';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.ts';
import { createKafka, ensureTopics, kafkajs } from '../kafka/index.ts';
import { decodeBlocks } from '../kafka/lz4.ts';
import { runJava } from './support/java.ts';
import { consumeAll } from './support/kafka.ts';

const LARGE = 20_000;
const SMALL = 30;

/** The value Lz4Produce.java sends as record n. */
const value = (n: number) =>
  Buffer.from(`{"n":${n},"pad":"${'x'.repeat(n % 300)}","text":"record ${n} \u00e9\u2603"}`);

type Codec = { compress: unknown; decompress(buffer: Buffer): Promise<Buffer> };
const codecs = kafkajs.CompressionCodecs as unknown as Record<number, () => Codec>;
const LZ4 = kafkajs.CompressionTypes.LZ4 as number;

describe('LZ4 batches of a Java producer', () => {
  const installed = codecs[LZ4] as () => Codec;
  /** Every frame this process's consumers decompress. */
  const frames: Buffer[] = [];
  codecs[LZ4] = () => {
    const codec = installed();
    return {
      ...codec,
      decompress: (buffer) => {
        frames.push(Buffer.from(buffer));
        return codec.decompress(buffer);
      },
    };
  };
  afterAll(() => {
    codecs[LZ4] = installed;
  });

  it('read back byte for byte through the block path', async () => {
    const cfg = loadConfig();
    const kafka = createKafka(cfg, 'test-lz4');
    const topic = `test-lz4-${randomUUID()}`;
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [{ topic, numPartitions: 1 }]);
    try {
      const { sent } = await runJava<{ sent: number }>(
        { project: 'kafka-producer', main: 'Lz4Produce', what: 'kafka-clients 3.9.1' },
        [cfg.kafkaBrokers.join(','), topic, String(LARGE), String(SMALL)],
      );
      expect(sent).toBe(LARGE + SMALL);
      const received = await consumeAll(kafka, topic, sent);
      expect(received.map((m) => Number(m.offset))).toEqual(Array.from({ length: sent }, (_, i) => i));
      const wrong = received.filter((m, n) => !m.value?.equals(value(n)));
      expect(wrong.map((m) => m.offset)).toEqual([]);

      // Frames of several 64 KiB blocks and of one small one, all on the block path.
      expect(frames.length).toBeGreaterThan(SMALL / 3);
      const blocks = frames.map((f) => decodeBlocks(f));
      expect(blocks.every((b) => b !== undefined)).toBe(true);
      expect(Math.max(...blocks.map((b) => b?.length ?? 0))).toBeGreaterThan(1);
      for (const [i, frame] of frames.entries()) {
        expect(Buffer.concat(blocks[i] ?? []).equals(decompressFrameSync(frame))).toBe(true);
      }
    } finally {
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.disconnect();
    }
  }, 240_000);
});
