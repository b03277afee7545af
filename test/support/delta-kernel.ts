// Delta Kernel for Java as a test's foreign reader of the lake: infra/delta-kernel's reader program,
// built and run by support/java.ts.
import { runJava } from './java.ts';

export const DELTA_KERNEL_VERSION = '3.3.2';

/** One column as Kernel read it: non-null values, and their sum, min and max (see the source). */
export interface KernelColumn {
  name: string;
  type: string;
  nonNull: number;
  sum: number;
  min: number | null;
  max: number | null;
}

export interface KernelSnapshot {
  spec: string;
  version: number;
  timestamp: number;
  /** The checkpoint Kernel started from, null when it replayed the log from version 0. */
  checkpointVersion: number | null;
  /** JSON commits Kernel replayed after it. */
  commitsReplayed: number;
  files: number;
  rows: number;
  txn: Record<string, number | null>;
  columns: KernelColumn[];
}

/**
 * Reads `table` with Delta Kernel at each snapshot (`latest`, `v:<version>`, `t:<ms>`), with the
 * latest txn version Kernel finds for each of `appIds`.
 */
export async function kernelRead(
  table: string,
  snapshots: readonly string[],
  appIds: readonly string[] = [],
): Promise<KernelSnapshot[]> {
  const args = [table, ...snapshots, ...appIds.flatMap((appId) => ['--txn', appId])];
  const program = {
    project: 'delta-kernel',
    main: 'DeltaKernelRead',
    what: `Delta Kernel ${DELTA_KERNEL_VERSION}`,
  };
  return (await runJava<{ snapshots: KernelSnapshot[] }>(program, args)).snapshots;
}
