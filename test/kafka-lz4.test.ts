// The LZ4 frame decoder of Kafka's fetches (kafka/lz4.ts): every frame reads back byte for byte,
// whether it takes the block path or goes to lz4-napi's frame decoder, and a frame either refuses
// is an error, never other bytes. Kafka's own Java producer's frames: test/kafka-foreign-lz4.test.ts.
import { randomBytes } from 'node:crypto';
import { compressFrameSync, compressSync, decompressFrameSync } from 'lz4-napi';
import { describe, expect, it } from 'vitest';
import { decodeBlocks, decompressLz4Frame } from '../kafka/lz4.ts';

const events = (n: number) =>
  Buffer.from(
    Array.from({ length: n }, (_, i) =>
      JSON.stringify({ eventId: `e-${i}`, eventType: 'page.view', payload: { productId: `p-${i % 300}` } }),
    ).join('\n'),
  );

/** A frame with the descriptor flags and BD byte given, of `blocks` (each with its size word). */
function frame(flags: number, bd: number, blocks: Buffer[], contentSize?: number): Buffer {
  const size = contentSize === undefined ? [] : [Buffer.alloc(8)];
  if (contentSize !== undefined) size[0]?.writeBigUInt64LE(BigInt(contentSize));
  const end = Buffer.alloc(4);
  // The descriptor checksum byte (not checked on the block path).
  return Buffer.concat([
    Buffer.from([0x04, 0x22, 0x4d, 0x18, flags, bd]),
    ...size,
    Buffer.from([0]),
    ...blocks,
    end,
  ]);
}

/** An uncompressed block of `data`: its size with the high bit set. */
function storedBlock(data: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeUInt32LE((data.length | 0x80000000) >>> 0);
  return Buffer.concat([size, data]);
}

/** A compressed block of `data`: lz4-napi's block without its size prefix, under a size word. */
function compressedBlock(data: Buffer): Buffer {
  const block = compressSync(data).subarray(4);
  const size = Buffer.alloc(4);
  size.writeUInt32LE(block.length);
  return Buffer.concat([size, block]);
}

describe('decompressLz4Frame', () => {
  it.each([
    ['empty', Buffer.alloc(0)],
    ['one byte', Buffer.from('x')],
    ['a few dozen events', events(30)],
    ['several 64 KiB blocks', events(5_000)],
    ['incompressible data, stored as it is', randomBytes(100_000)],
    ['one byte repeated, the densest blocks the format has', Buffer.alloc(300_000, 7)],
  ])('reads back %s exactly, as lz4-napi frames it', (_, content) => {
    const compressed = compressFrameSync(content);
    expect(decompressLz4Frame(compressed).equals(content)).toBe(true);
  });

  it('reads frames with checksums through the frame decoder, which checks them', () => {
    const content = events(500);
    for (const options of [{ contentChecksum: true }, { blockChecksums: true }]) {
      const compressed = compressFrameSync(content, options);
      expect(decompressLz4Frame(compressed).equals(content)).toBe(true);
      const corrupt = Buffer.from(compressed);
      // The last byte is a checksum's in both shapes.
      corrupt[corrupt.length - 1] = (corrupt.at(-1) as number) ^ 0xff;
      expect(() => decompressLz4Frame(corrupt)).toThrow();
    }
  });

  it('checks a content size against the blocks it reads', () => {
    const content = Buffer.from('abc');
    const flags = 0x40 | 0x20 | 0x08;
    expect(decompressLz4Frame(frame(flags, 0x40, [storedBlock(content)], 3)).toString()).toBe('abc');
    // A size the blocks do not add up to goes to the frame decoder, which refuses it.
    expect(() => decompressLz4Frame(frame(flags, 0x40, [storedBlock(content)], 4))).toThrow();
  });

  it('reads a hostile frame of thousands of tiny blocks under a 4 MiB maximum, each bounded by its size', () => {
    // Each block's output is bounded by 255 times its size, not the declared 4 MiB (which would be
    // an allocation of 4 MiB per block); the bound must still hold what each block makes.
    const pieces = Array.from({ length: 3_000 }, (_, i) => Buffer.from(i % 2 ? 'x' : 'y'.repeat(200)));
    const f = frame(0x60, 0x70, pieces.map(compressedBlock));
    expect(decompressLz4Frame(f).equals(Buffer.concat(pieces))).toBe(true);
  });

  it('leaves the frame as it was: each block is decoded in place of its size word, which is put back', () => {
    const pieces = [events(300), events(400), Buffer.from('x')];
    const f = frame(0x60, 0x40, pieces.map(compressedBlock));
    const before = Buffer.from(f);
    expect(decompressLz4Frame(f).equals(Buffer.concat(pieces))).toBe(true);
    expect(f.equals(before)).toBe(true);
    // Also when the block decoder refuses a block (a match at offset 0) and the frame decoder then
    // reads the frame: it must see the frame as it came.
    const invalid = Buffer.alloc(7);
    invalid.writeUInt32LE(3);
    invalid.set([0x0f, 0x00, 0x00], 4);
    const refused = frame(0x60, 0x40, [invalid]);
    const asItCame = Buffer.from(refused);
    expect(() => decodeBlocks(refused)).toThrow(/offset/);
    expect(refused.equals(asItCame)).toBe(true);
    expect(outcome(decompressLz4Frame, refused)).toEqual(outcome(decompressFrameSync, asItCame));
    expect(refused.equals(asItCame)).toBe(true);
  });

  it('copies a stored block out of the frame, so records do not hold the fetch', () => {
    const f = frame(0x60, 0x40, [storedBlock(Buffer.from('stored'))]);
    const out = decompressLz4Frame(f);
    f.fill(0);
    expect(out.toString()).toBe('stored');
  });

  it('refuses truncated frames, and reads every mangled frame as the frame decoder does', () => {
    const content = events(2_000);
    const compressed = compressFrameSync(content);
    for (const cut of [5, 11, 12, 100, compressed.length - 100]) {
      expect(() => decompressLz4Frame(compressed.subarray(0, cut))).toThrow();
    }
    const mangled = [
      // Without its end mark (lz4-napi reads it whole), with a byte after it (ignored).
      compressed.subarray(0, compressed.length - 4),
      Buffer.concat([compressed, Buffer.from([1])]),
      // A block whose size runs past the frame.
      withByte(compressed, 8, 0xff),
      // Linked blocks (the block path reads independent ones only): the flag cleared.
      withByte(compressed, 4, (compressed[4] as number) & ~0x20),
      Buffer.from('not a frame at all'),
      // A byte of a compressed block changed: an error, or changed content neither can tell.
      ...Array.from({ length: 40 }, (_, i) =>
        withByte(compressed, 11 + i * 97, (compressed[11 + i * 97] as number) ^ 0x5a),
      ),
    ];
    for (const frame of mangled)
      expect(outcome(decompressLz4Frame, frame)).toEqual(outcome(decompressFrameSync, frame));
  });
});

function withByte(buffer: Buffer, at: number, value: number): Buffer {
  const copy = Buffer.from(buffer);
  copy[at] = value;
  return copy;
}

/** The bytes a decoder reads, or that it refused. */
function outcome(decode: (frame: Buffer) => Buffer, frame: Buffer): string {
  try {
    return decode(frame).toString('base64');
  } catch {
    return 'refused';
  }
}
