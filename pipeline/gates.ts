// Where a consumer's gates run. A gate is per partition and stateful (its dedup window), and with
// the sink's preparer (accepted records -> what the sink inserts) it is most of the CPU a record
// costs; so it can run in the consumer's own thread (localGates) or in worker threads
// (threadedGates, gate-threads.ts), which leaves the event loop to Kafka, commits and inserts.
import type { Dimensions } from '../contracts/index.ts';
import {
  type AcceptedRecord,
  createGate,
  type Gate,
  type GateOptions,
  type RawMessage,
  type RejectedRecord,
  sinkRejection,
} from '../quality/index.ts';
import type { GatedRange } from './sink.ts';

/**
 * Turns a range's accepted records into what the sink takes. Runs where the gate runs. A record it
 * cannot turn (the sink's own encoding refuses it) is given to `refuse` with the reason, which
 * names the sink, and left out: the range goes on without it.
 */
export type Prepare<P> = (
  accepted: readonly AcceptedRecord[],
  refuse: (record: AcceptedRecord, reason: string) => void,
) => P;

/** Makes a preparer from the reference data (again whenever the dimensions are refreshed). */
export type PreparerFactory<P> = (dimensions: Dimensions) => Prepare<P>;

/** One partition's gate. Calls are answered in the order they are made. */
export interface PartitionGate<P> {
  /** Gates records only to rebuild the dedup window (the history before the committed offset). */
  replay(batch: readonly RawMessage[]): Promise<void>;
  run(batch: readonly RawMessage[]): Promise<GatedRange<P>>;
  /** Frees the gate; calls after this fail. */
  close(): void;
}

/** Gate options a gate thread can be given: data only. */
export type SharedGateOptions = Pick<GateOptions, 'allowedLatenessMinutes' | 'clockSkewSeconds'> & {
  dimensions: Dimensions;
};

export interface Gates<P> {
  /** A new gate for `partition` whose dedup window holds `dedupWindow` ids. */
  open(partition: number, dedupWindow: number): PartitionGate<P>;
  /** New reference data for every gate and preparer, from the next range each one gates. */
  setDimensions(dimensions: Dimensions): Promise<void>;
  close(): Promise<void>;
}

/** A gate with its preparer applied, as both kinds of gates run it. */
export function gateRange<P>(gate: Gate, prepare: Prepare<P>, batch: readonly RawMessage[]): GatedRange<P> {
  const { accepted, rejected, report } = gate.run(batch);
  const refused: RejectedRecord[] = [];
  const prepared = prepare(accepted, (record, reason) =>
    refused.push(sinkRejection(record, reason, report.at)),
  );
  return { accepted: prepared, rejected, refused, report };
}

/** Gates in the calling thread. */
export function localGates<P>(options: SharedGateOptions, preparer: PreparerFactory<P>): Gates<P> {
  let dimensions = options.dimensions;
  let prepare = preparer(dimensions);
  const open = new Set<Gate>();
  return {
    open(_partition, dedupWindow) {
      const gate = createGate({ ...options, dimensions, dedupWindow });
      open.add(gate);
      let closed = false;
      const live = () => {
        if (closed) throw new Error('the gate is closed');
        return gate;
      };
      return {
        replay: async (batch) => void live().run(batch),
        run: async (batch) => gateRange(live(), prepare, batch),
        close() {
          closed = true;
          open.delete(gate);
        },
      };
    },
    async setDimensions(next) {
      dimensions = next;
      prepare = preparer(next);
      for (const gate of open) gate.setDimensions(next);
    },
    async close() {
      open.clear();
    },
  };
}
