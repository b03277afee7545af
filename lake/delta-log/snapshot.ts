// Log replay: the reconciled table state at a version, from a starting state and later commits.
import type { Action, AddFile, Metadata, Protocol, RemoveFile, Txn } from './actions.ts';

export interface Snapshot {
  version: number;
  /** commitInfo.timestamp of `version` (ms since epoch). */
  timestamp: number;
  protocol: Protocol;
  metadata: Metadata;
  /** Live files by path: added and not removed since. */
  files: ReadonlyMap<string, AddFile>;
  /** Removed files by path, kept so vacuum knows when each stopped being referenced. */
  tombstones: ReadonlyMap<string, RemoveFile>;
  /** Latest txn per appId. */
  txns: ReadonlyMap<string, Txn>;
}

/** Applies one commit's actions (in file order, as the protocol reconciles them) to `base`. */
export function applyCommit(
  base: Snapshot | undefined,
  version: number,
  actions: readonly Action[],
): Snapshot {
  let protocol = base?.protocol;
  let metadata = base?.metadata;
  let timestamp = base?.timestamp ?? 0;
  const files = new Map(base?.files);
  const tombstones = new Map(base?.tombstones);
  const txns = new Map(base?.txns);
  for (const action of actions) {
    if ('protocol' in action) protocol = action.protocol;
    else if ('metaData' in action) metadata = action.metaData;
    else if ('txn' in action) txns.set(action.txn.appId, action.txn);
    else if ('commitInfo' in action) timestamp = action.commitInfo.timestamp;
    else if ('add' in action) {
      files.set(action.add.path, action.add);
      tombstones.delete(action.add.path);
    } else {
      files.delete(action.remove.path);
      tombstones.set(action.remove.path, action.remove);
    }
  }
  if (!protocol || !metadata) throw new Error(`Delta log: no protocol or metaData by version ${version}`);
  return { version, timestamp, protocol, metadata, files, tombstones, txns };
}

/** The reconciled actions a checkpoint stores: the snapshot with its history collapsed. */
export function snapshotActions(snapshot: Snapshot): Action[] {
  return [
    { protocol: snapshot.protocol },
    { metaData: snapshot.metadata },
    ...[...snapshot.txns.values()].map((txn) => ({ txn })),
    ...[...snapshot.files.values()].map((add) => ({ add })),
    ...[...snapshot.tombstones.values()].map((remove) => ({ remove })),
  ];
}
