// Kafka's LZ4 codec is the LZ4 frame format. lz4-napi's frame decoder reads ~300 MB/s (measured: 16
// µs for a frame of 30 events, 515 µs for 800), its block decoder about ten times that (3.5 and 27
// µs), and its async frame decoder still held the event loop 23-46 µs a frame. Producers at 50,000
// events/s send frames of a few dozen records (one per batch and partition): in the all-in-one
// soak, decompression was a tenth of the event loop. So frames of the shape Kafka's own clients
// write (independent blocks, no checksums, no dictionary) are split here and each block goes to the
// block decoder, on the event loop; any other frame, and any frame that does not parse as that
// shape, goes to the frame decoder whole, which decides on it (checksums included).
import { decompressFrameSync, uncompressSync } from 'lz4-napi';

const MAGIC = 0x184d2204;
const VERSION_MASK = 0xc0;
const VERSION_01 = 0x40;
const BLOCK_INDEPENDENCE = 0x20;
const BLOCK_CHECKSUM = 0x10;
const CONTENT_SIZE = 0x08;
const CONTENT_CHECKSUM = 0x04;
const RESERVED = 0x02;
const DICTIONARY_ID = 0x01;
/** The only flags the fast path reads frames with: version 01 and independent blocks. */
const FAST_FLAGS = VERSION_01 | BLOCK_INDEPENDENCE;
const FAST_FLAGS_MASK =
  VERSION_MASK | BLOCK_INDEPENDENCE | BLOCK_CHECKSUM | CONTENT_CHECKSUM | RESERVED | DICTIONARY_ID;
const UNCOMPRESSED_BLOCK = 0x80000000;
const MAX_EXPANSION = 255;

/** The block maximum sizes of the BD byte's bits 4-6 (4: 64 KiB ... 7: 4 MiB); others are invalid. */
function blockMaxSize(bd: number): number | undefined {
  const code = (bd >> 4) & 0x07;
  if ((bd & 0x8f) !== 0 || code < 4) return undefined;
  return 1 << (8 + 2 * code);
}

/**
 * The blocks of a frame of the fast path's shape, decoded; undefined for any other frame (its
 * flags, or sizes that do not add up to exactly the buffer).
 */
export function decodeBlocks(frame: Buffer): Buffer[] | undefined {
  if (frame.length < 7 || frame.readUInt32LE(0) !== MAGIC) return undefined;
  const flags = frame[4] as number;
  if ((flags & FAST_FLAGS_MASK) !== FAST_FLAGS) return undefined;
  const maxSize = blockMaxSize(frame[5] as number);
  if (maxSize === undefined) return undefined;
  const hasContentSize = (flags & CONTENT_SIZE) !== 0;
  // The descriptor's checksum byte is not checked: the descriptor is trusted as far as the block
  // sizes that follow it agree with it, to the frame's last byte.
  let at = hasContentSize ? 15 : 7;
  const blocks: Buffer[] = [];
  let total = 0;
  for (;;) {
    if (at + 4 > frame.length) return undefined;
    const word = frame.readUInt32LE(at);
    at += 4;
    if (word === 0) break;
    const size = word & ~UNCOMPRESSED_BLOCK;
    if (size > maxSize || at + size > frame.length) return undefined;
    const data = frame.subarray(at, at + size);
    at += size;
    let block: Buffer;
    if (word & UNCOMPRESSED_BLOCK) {
      // A copy: a view would hold the whole fetch response for as long as its records live.
      block = Buffer.from(data);
    } else {
      // lz4-napi's block decoder allocates the output size a 4-byte prefix gives, as an upper bound.
      // A block's sequences make at most 255 bytes of each byte they take (a match length grows by
      // 255 per byte), so a frame of many tiny blocks cannot make it allocate the block maximum
      // (up to 4 MiB) for each. The prefix takes the place of the block's size word for the call:
      // a prefixed copy of each block was one more fresh buffer per block, its page faults and a
      // young-generation ArrayBuffer that brings V8's next scavenge closer (docs/soak.md).
      const prefix = at - size - 4;
      frame.writeUInt32LE(Math.min(maxSize, MAX_EXPANSION * size), prefix);
      try {
        block = uncompressSync(frame.subarray(prefix, at));
      } finally {
        frame.writeUInt32LE(word, prefix);
      }
    }
    blocks.push(block);
    total += block.length;
  }
  if (at !== frame.length) return undefined;
  if (hasContentSize && Number(frame.readBigUInt64LE(6)) !== total) return undefined;
  return blocks;
}

/** An LZ4 frame's content; throws lz4-napi's error for a frame it refuses. */
export function decompressLz4Frame(frame: Buffer): Buffer {
  let blocks: Buffer[] | undefined;
  try {
    blocks = decodeBlocks(frame);
  } catch {
    // A block the block decoder refuses: the frame decoder gives the error.
    blocks = undefined;
  }
  if (blocks === undefined) return decompressFrameSync(frame);
  if (blocks.length === 1) return blocks[0] as Buffer;
  return Buffer.concat(blocks);
}
