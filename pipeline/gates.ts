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
  type GateResult,
  type RawMessage,
  type RejectedRecord,
  sinkRejection,
  type VerdictBoard,
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

/** A gate's result with the preparer applied, as both kinds of gates run it. */
export function prepareRange<P>(result: GateResult, prepare: Prepare<P>): GatedRange<P> {
  const { accepted, rejected, report } = result;
  const refused: RejectedRecord[] = [];
  const prepared = prepare(accepted, (record, reason) =>
    refused.push(sinkRejection(record, reason, report.at)),
  );
  return { accepted: prepared, rejected, refused, report };
}

/**
 * How a process's gates share one verdict per event (quality/verdict-board.ts): the gates of the
 * consumer that reads the topic first post theirs, the other consumer's gates take them.
 */
export interface VerdictSharing {
  board: VerdictBoard;
  role: 'post' | 'take';
}

/** Gates in the calling thread, sharing verdicts through `verdicts` when given. */
export function localGates<P>(
  options: SharedGateOptions,
  preparer: PreparerFactory<P>,
  verdicts?: VerdictSharing,
): Gates<P> {
  let dimensions = options.dimensions;
  let prepare = preparer(dimensions);
  const open = new Set<Gate>();
  const judge = async (gate: Gate, batch: readonly RawMessage[]): Promise<GateResult> => {
    if (verdicts?.role === 'take') {
      const taken = await verdicts.board.take(batch);
      if (taken === undefined) return gate.run(batch);
      // This gate's window stays whole, should a later range miss the board.
      if (batch[0]) gate.rememberBits(taken.acceptedIds, batch[0]);
      return taken.result;
    }
    const result = gate.run(batch);
    verdicts?.board.post(batch, result);
    return result;
  };
  return {
    open(_partition, dedupWindow) {
      const gate = createGate({ ...options, dimensions, dedupWindow });
      open.add(gate);
      let closed = false;
      const live = () => {
        if (closed) throw new Error('the gate is closed');
        return gate;
      };
      // A take may wait for verdicts: calls still run one at a time, in the order they are made.
      let previous: Promise<unknown> = Promise.resolve();
      const inOrder = <T>(call: () => Promise<T>): Promise<T> => {
        const next = previous.then(call);
        previous = next.catch(() => undefined);
        return next;
      };
      return {
        // A replay rebuilds this gate's own window from records no verdict covers any more.
        replay: (batch) => inOrder(async () => void live().run(batch)),
        run: (batch) => inOrder(async () => prepareRange(await judge(live(), batch), prepare)),
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
