// Where a verdict board keeps the segments its memory cannot hold: append-only files, each unlinked
// as soon as it is opened, so the kernel frees it when the process ends however it ends (nothing to
// clean up after a crash, and no other process can read it). A file is closed once none of its
// segments is held any more and a newer file takes the writes.
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readSync, unlinkSync, writevSync } from 'node:fs';
import { join } from 'node:path';

/** A file is written up to about this size before the next one starts, so taken ones can go. */
const FILE_BYTES = 64 * 1024 * 1024;

interface SpillFile {
  readonly fd: number;
  /** Bytes written. */
  size: number;
  /** Segments written here and still held. */
  live: number;
}

/** Where one spilled segment's bytes are. */
export interface SpillRef {
  readonly file: SpillFile;
  readonly position: number;
  readonly length: number;
}

export class VerdictSpill {
  private current: SpillFile | undefined;
  private readonly files = new Set<SpillFile>();
  private held = 0;

  /** `dir` is created on the first write. */
  constructor(private readonly dir: string) {}

  /** Bytes of the segments held. */
  get bytes(): number {
    return this.held;
  }

  /** Writes one segment's parts back to back. Throws what the file system throws. */
  write(parts: readonly Uint8Array[]): SpillRef {
    const length = parts.reduce((n, p) => n + p.byteLength, 0);
    let file = this.current;
    if (!file || (file.size > 0 && file.size + length > FILE_BYTES)) {
      if (file) this.retire(file);
      file = this.open();
      this.current = file;
    }
    const position = file.size;
    const written = writevSync(file.fd, parts as Uint8Array[], position);
    if (written !== length) throw new Error(`verdict spill: wrote ${written} of ${length} bytes`);
    file.size += length;
    file.live++;
    this.held += length;
    return { file, position, length };
  }

  /** A spilled segment's bytes, in a buffer of their own (typed arrays can view it from offset 0). */
  read(ref: SpillRef): Buffer {
    const bytes = Buffer.allocUnsafeSlow(ref.length);
    const read = readSync(ref.file.fd, bytes, 0, ref.length, ref.position);
    if (read !== ref.length) throw new Error(`verdict spill: read ${read} of ${ref.length} bytes`);
    return bytes;
  }

  /** The segment is no longer held: its file goes once it holds no other and takes no writes. */
  release(ref: SpillRef): void {
    this.held -= ref.length;
    ref.file.live--;
    if (ref.file !== this.current) this.retire(ref.file);
  }

  /** Closes every file (segments still held are lost: their refs must not be read again). */
  close(): void {
    for (const file of this.files) closeSync(file.fd);
    this.files.clear();
    this.current = undefined;
    this.held = 0;
  }

  private open(): SpillFile {
    mkdirSync(this.dir, { recursive: true });
    const path = join(this.dir, `verdicts-${process.pid}-${randomUUID()}`);
    const fd = openSync(path, 'wx+', 0o600);
    unlinkSync(path);
    const file = { fd, size: 0, live: 0 };
    this.files.add(file);
    return file;
  }

  private retire(file: SpillFile): void {
    if (file.live > 0 || !this.files.delete(file)) return;
    closeSync(file.fd);
  }
}
