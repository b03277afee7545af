import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { heapOwners } from '../bench/heap-owners.ts';

describe('bench/heap-owners', () => {
  const dir = mkdtempSync(join(tmpdir(), 'heap-owners-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("groups a real snapshot's live buffers by what holds them, garbage left out", () => {
    // A process holding buffers of known sizes in known places, and dropping one before its snapshot.
    const program = `
      class Fetcher { constructor() { this.response = Buffer.alloc(3 << 20); } }
      globalThis.held = { fetcher: new Fetcher(), ranges: [new Uint8Array(65536), new Uint8Array(65536)] };
      let dropped = Buffer.alloc(5 << 20);
      dropped = null;
      require('node:v8').writeHeapSnapshot(${JSON.stringify(join(dir, 'x.heapsnapshot'))});
    `;
    execFileSync(process.execPath, ['-e', program]);
    expect(readdirSync(dir)).toEqual(['x.heapsnapshot']);
    const { totalBytes, owners } = heapOwners(join(dir, 'x.heapsnapshot'));
    const fetcher = owners.find((o) => o.path.includes('response<Fetcher fetcher<Object held<'));
    expect(fetcher).toMatchObject({ bytes: 3 << 20, buffers: 1 });
    expect(fetcher?.path.startsWith('backing_store<ArrayBuffer buffer<Buffer response<Fetcher')).toBe(true);
    const ranges = owners.find((o) => o.path.includes('[i]<Array ranges<Object held<'));
    expect(ranges).toMatchObject({ bytes: 2 * 65536, buffers: 2 });
    // The dropped 5 MiB was collected before the snapshot; everything counted is what owners hold.
    expect(totalBytes).toBeLessThan((3 << 20) + (4 << 20));
    expect(owners.reduce((sum, o) => sum + o.bytes, 0)).toBe(totalBytes);
    expect(owners[0]).toBe(fetcher);
  });

  it('refuses a file that is not a heap snapshot', () => {
    expect(() => heapOwners(join(import.meta.dirname, '..', 'package.json'))).toThrow(
      'not a V8 heap snapshot: no "nodes" section',
    );
  });
});
