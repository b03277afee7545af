// A gate thread (see gate-threads.ts): hosts the gates of the partitions given to it and runs the
// sink's preparer next to them, so what goes back is what the sink inserts, not parsed events.
import { parentPort, workerData } from 'node:worker_threads';
import { createGate, type Gate } from '../quality/index.ts';
import type { GateThreadData, GateThreadReply, GateThreadRequest } from './gate-threads.ts';
import { type PreparerFactory, prepareRange } from './gates.ts';
import { detachRejected, ownedBuffers, unpackBatch } from './thread-transfer.ts';

const data = workerData as GateThreadData;
const imported = (await import(data.preparer.module)) as Record<string, unknown>;
const factory = imported[data.preparer.name];
if (typeof factory !== 'function') {
  throw new Error(`${data.preparer.module} exports no preparer named ${data.preparer.name}`);
}
const preparer = factory as PreparerFactory<unknown>;
let options = data.options;
let prepare = preparer(options.dimensions);
const gates = new Map<number, Gate>();
const port = parentPort as NonNullable<typeof parentPort>;

function gateOf(id: number): Gate {
  const gate = gates.get(id);
  if (!gate) throw new Error(`gate ${id} is not open in this thread`);
  return gate;
}

function handle(request: GateThreadRequest): void {
  switch (request.kind) {
    case 'open':
      gates.set(request.gate, createGate({ ...options, dedupWindow: request.dedupWindow }));
      return;
    case 'close':
      gates.delete(request.gate);
      return;
    case 'dimensions':
      options = { ...options, dimensions: request.dimensions };
      prepare = preparer(request.dimensions);
      for (const gate of gates.values()) gate.setDimensions(request.dimensions);
      reply({ id: request.id });
      return;
    case 'replay':
      gateOf(request.gate).run(unpackBatch(request.batch));
      reply({ id: request.id });
      return;
    case 'run': {
      const range = prepareRange(gateOf(request.gate).run(unpackBatch(request.batch)), prepare);
      reply(
        {
          id: request.id,
          range: {
            ...range,
            rejected: detachRejected(range.rejected),
            refused: detachRejected(range.refused),
          },
        },
        ownedBuffers(range.accepted),
      );
      return;
    }
  }
}

function reply(message: GateThreadReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

port.on('message', (request: GateThreadRequest) => {
  try {
    handle(request);
  } catch (error) {
    if ('id' in request)
      reply({ id: request.id, error: error instanceof Error ? error.message : String(error) });
    else throw error;
  }
});
