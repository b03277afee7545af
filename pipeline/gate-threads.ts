// Gates in worker threads. Parsing, checking and preparing a record costs the speed layer more
// than half of its event loop (docs/speed.md); in a gate thread that work runs on the core the
// event loop leaves idle while ClickHouse inserts. Partitions are spread over the threads by
// number; each gate lives in one thread, and a thread answers its requests in order, so a
// partition's ranges are gated in offset order as the exactly-once protocol needs. A thread that
// dies fails the requests of its gates (their partitions start over from Kafka) and the next gate
// opened gets a new thread.
import { Worker } from 'node:worker_threads';
import type { Dimensions } from '../contracts/index.ts';
import type { RawMessage } from '../quality/index.ts';
import type { Gates, PartitionGate, SharedGateOptions } from './gates.ts';
import type { GatedRange } from './sink.ts';
import { type PackedBatch, packBatch, reviveRejected } from './thread-transfer.ts';

/** A preparer a thread can load: `name`, exported by `module` (a file URL), is a PreparerFactory. */
export interface PreparerRef {
  module: string;
  name: string;
}

export interface GateThreadData {
  options: SharedGateOptions;
  preparer: PreparerRef;
}

export type GateThreadRequest =
  | { kind: 'open'; gate: number; dedupWindow: number }
  | { kind: 'close'; gate: number }
  | { kind: 'dimensions'; id: number; dimensions: Dimensions }
  | { kind: 'replay' | 'run'; id: number; gate: number; batch: PackedBatch };

export type GateThreadReply = { id: number; range?: GatedRange<unknown> } | { id: number; error: string };

export interface ThreadedGatesOptions extends GateThreadData {
  /** Gate threads; partitions are spread over them. */
  threads: number;
}

const THREAD_MODULE = new URL('./gate-thread.ts', import.meta.url).href;
// The thread's entry is TypeScript: tsx's loader is registered in the thread before it is imported
// (a worker does not inherit the loader of the process that starts it).
const BOOT = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(THREAD_MODULE)}); })`;

interface Waiting {
  resolve(reply: GateThreadReply): void;
  reject(error: Error): void;
}

class GateThread {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;
  /** Why the thread is gone, once it is. */
  dead: Error | undefined;

  constructor(data: GateThreadData) {
    this.worker = new Worker(BOOT, { eval: true, workerData: data });
    this.worker.on('message', (reply: GateThreadReply) => {
      const waiting = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if ('error' in reply) waiting?.reject(new Error(`gate thread: ${reply.error}`));
      else waiting?.resolve(reply);
    });
    this.worker.on('error', (error) => this.die(new Error(`gate thread failed: ${error.message}`)));
    this.worker.on('exit', (code) => this.die(new Error(`gate thread exited with code ${code}`)));
  }

  post(request: GateThreadRequest, transfer: ArrayBuffer[] = []): void {
    if (this.dead) throw this.dead;
    this.worker.postMessage(request, transfer);
  }

  /** Sends a request that has an answer. */
  ask(request: (id: number) => GateThreadRequest, transfer?: ArrayBuffer[]): Promise<GateThreadReply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      try {
        this.post(request(id), transfer);
      } catch (error) {
        this.waiting.delete(id);
        reject(error);
      }
    });
  }

  async close(): Promise<void> {
    this.die(new Error('gate thread closed'));
    await this.worker.terminate();
  }

  private die(reason: Error): void {
    this.dead ??= reason;
    for (const waiting of this.waiting.values()) waiting.reject(this.dead);
    this.waiting.clear();
  }
}

export function threadedGates<P>({ threads: count, ...data }: ThreadedGatesOptions): Gates<P> {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`gate threads must be >= 1, got ${count}`);
  const threads: (GateThread | undefined)[] = Array.from({ length: count }, () => undefined);
  let nextGate = 0;
  const threadFor = (partition: number): GateThread => {
    const slot = partition % count;
    let thread = threads[slot];
    if (!thread || thread.dead) {
      thread = new GateThread(data);
      threads[slot] = thread;
    }
    return thread;
  };

  return {
    open(partition, dedupWindow): PartitionGate<P> {
      const thread = threadFor(partition);
      const gate = nextGate++;
      thread.post({ kind: 'open', gate, dedupWindow });
      const send = (kind: 'replay' | 'run', batch: readonly RawMessage[]) => {
        const { packed, transfer } = packBatch(batch);
        return thread.ask((id) => ({ kind, id, gate, batch: packed }), transfer);
      };
      return {
        async replay(batch) {
          await send('replay', batch);
        },
        async run(batch) {
          const reply = await send('run', batch);
          const range = (reply as { range: GatedRange<P> }).range;
          return {
            ...range,
            rejected: reviveRejected(range.rejected),
            refused: reviveRejected(range.refused),
          };
        },
        close() {
          if (!thread.dead) thread.post({ kind: 'close', gate });
        },
      };
    },
    async setDimensions(dimensions) {
      data.options = { ...data.options, dimensions };
      await Promise.all(
        threads.map((thread) =>
          thread && !thread.dead ? thread.ask((id) => ({ kind: 'dimensions', id, dimensions })) : undefined,
        ),
      );
    },
    async close() {
      await Promise.all(threads.map((thread) => thread?.close()));
      threads.fill(undefined);
    },
  };
}
