// Which owners hold a process's buffers: reads a V8 heap snapshot (written with
// `--heapsnapshot-signal` or `v8.writeHeapSnapshot`) and groups the memory of every ArrayBuffer, 4
// KiB or more, by the path that holds it, the shortest from the snapshot's root over strong edges.
// A snapshot collects garbage first, so this is what is live: the process's counters (external
// memory, the JS heap, glibc's heap) also count garbage and the allocators' reserve. docs/soak.md,
// "What the process holds late in a run", has how the soak is snapshotted and what it found.
//
//   node --import tsx bench/heap-owners.ts <file.heapsnapshot> [depth]
//
// The snapshot is read as bytes, not as one JSON string: a big process's snapshot can pass V8's
// longest string (~512 MiB) long before the process runs short.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export interface Owner {
  /** The backing store's holders, nearest first: `edge<holder` steps. */
  path: string;
  bytes: number;
  buffers: number;
}

export interface HeapOwners {
  /** Bytes of the ArrayBuffers counted (4 KiB or more each). */
  totalBytes: number;
  /** Biggest first. */
  owners: Owner[];
}

interface SnapshotMeta {
  node_fields: string[];
  node_types: [string[], ...unknown[]];
  edge_fields: string[];
  edge_types: [string[], ...unknown[]];
}

const MIN_BYTES = 4096;
const BACKING_STORE = 'system / JSArrayBufferData';

/** The unsigned integers of `bytes[start, end)`, a JSON array's body. */
function integers(bytes: Buffer, start: number, end: number): Float64Array {
  const out: number[] = [];
  let value = 0;
  let inNumber = false;
  for (let i = start; i < end; i++) {
    const c = bytes[i] as number;
    if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      inNumber = true;
    } else if (inNumber) {
      out.push(value);
      value = 0;
      inNumber = false;
    }
  }
  if (inNumber) out.push(value);
  return Float64Array.from(out);
}

function sectionStart(bytes: Buffer, key: string, from: number): number {
  const at = bytes.indexOf(`"${key}":[`, from, 'latin1');
  if (at < 0) throw new Error(`not a V8 heap snapshot: no "${key}" section`);
  return at + key.length + 4;
}

export function heapOwners(file: string, depth = 6): HeapOwners {
  const bytes = readFileSync(file);
  const nodesAt = sectionStart(bytes, 'nodes', 0);
  const edgesAt = sectionStart(bytes, 'edges', nodesAt);
  const stringsAt = sectionStart(bytes, 'strings', edgesAt);
  const header = bytes.toString('utf8', 0, nodesAt - '"nodes":['.length).replace(/,\s*$/, '');
  const meta = (JSON.parse(`${header}}`) as { snapshot: { meta: SnapshotMeta } }).snapshot.meta;
  const nodes = integers(bytes, nodesAt, edgesAt);
  const edges = integers(bytes, edgesAt, bytes.indexOf(']', edgesAt));
  const strings = JSON.parse(bytes.toString('utf8', stringsAt - 1, bytes.lastIndexOf(']') + 1)) as string[];

  const NF = meta.node_fields.length;
  const EF = meta.edge_fields.length;
  const [nType, nName, nSize, nEdges] = ['type', 'name', 'self_size', 'edge_count'].map((f) =>
    meta.node_fields.indexOf(f),
  ) as [number, number, number, number];
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) =>
    meta.edge_fields.indexOf(f),
  ) as [number, number, number];
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const count = nodes.length / NF;
  const firstEdge = new Float64Array(count + 1);
  for (let i = 0; i < count; i++)
    firstEdge[i + 1] = (firstEdge[i] as number) + (nodes[i * NF + nEdges] as number);

  // Breadth first from the root over strong edges: each node's parent is on a shortest path.
  const weak = new Set([edgeTypes.indexOf('weak'), edgeTypes.indexOf('shortcut')]);
  const parentEdge = new Int32Array(count).fill(-1);
  const parent = new Int32Array(count).fill(-1);
  const queue = new Int32Array(count);
  let head = 0;
  let tail = 1;
  parent[0] = 0;
  while (head < tail) {
    const from = queue[head++] as number;
    for (let e = firstEdge[from] as number; e < (firstEdge[from + 1] as number); e++) {
      if (weak.has(edges[e * EF + eType] as number)) continue;
      const to = (edges[e * EF + eTo] as number) / NF;
      if (parent[to] !== -1) continue;
      parent[to] = from;
      parentEdge[to] = e;
      queue[tail++] = to;
    }
  }

  const nodeLabel = (i: number): string => {
    const type = nodeTypes[nodes[i * NF + nType] as number] as string;
    const name = strings[nodes[i * NF + nName] as number] as string;
    return type === 'object' || type === 'native' || type === 'closure' ? name.slice(0, 40) : `(${type})`;
  };
  const edgeLabel = (e: number): string => {
    const type = edgeTypes[edges[e * EF + eType] as number] as string;
    if (type === 'element') return '[i]';
    if (type === 'hidden') return '[h]';
    return String(strings[edges[e * EF + eName] as number]).slice(0, 30);
  };

  const owners = new Map<string, Owner>();
  let totalBytes = 0;
  for (let i = 0; i < count; i++) {
    const size = nodes[i * NF + nSize] as number;
    if (size < MIN_BYTES || strings[nodes[i * NF + nName] as number] !== BACKING_STORE) continue;
    totalBytes += size;
    const steps: string[] = [];
    for (let at = i; steps.length < depth && parent[at] !== -1 && at !== 0; at = parent[at] as number)
      steps.push(`${edgeLabel(parentEdge[at] as number)}<${nodeLabel(parent[at] as number)}`);
    const path = parent[i] === -1 ? '(not held by a strong path)' : steps.join(' ');
    const owner = owners.get(path) ?? { path, bytes: 0, buffers: 0 };
    owner.bytes += size;
    owner.buffers++;
    owners.set(path, owner);
  }
  return { totalBytes, owners: [...owners.values()].sort((a, b) => b.bytes - a.bytes) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [file, depthArg] = process.argv.slice(2);
  const depth = depthArg === undefined ? 6 : Number(depthArg);
  if (file === undefined || !Number.isInteger(depth) || depth < 1) {
    console.error('usage: node --import tsx bench/heap-owners.ts <file.heapsnapshot> [depth ≥ 1]');
    process.exit(2);
  }
  const { totalBytes, owners } = heapOwners(file, depth);
  const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1).padStart(8);
  console.log(`live ArrayBuffers of 4 KiB or more: ${mb(totalBytes).trim()} MB`);
  for (const { path, bytes, buffers } of owners.slice(0, 30))
    console.log(`${mb(bytes)} MB ${String(buffers).padStart(6)}  ${path}`);
}
