// Delta Kernel for Java as a test's foreign reader of the lake: its jars fetched from Maven Central
// once by infra/delta-kernel/pom.xml into the state dir (as `services up` caches Kafka's), and its
// small reader program compiled once per version of its source. A run then costs a JVM start.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../../config/index.ts';
import { run } from '../../scripts/services/commands.ts';
import { ensureMavenJars } from '../../scripts/services/maven.ts';

export const DELTA_KERNEL_VERSION = '3.3.2';
const PROJECT = resolve(import.meta.dirname, '../../infra/delta-kernel');
const SOURCE = join(PROJECT, 'src', 'DeltaKernelRead.java');

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

/** The classpath: jars and compiled reader, built under the state dir the first time. */
function classpath(): string {
  const root = resolve(loadConfig().stateDir, 'delta-kernel');
  const lib = join(root, `lib-${DELTA_KERNEL_VERSION}`);
  ensureMavenJars(join(PROJECT, 'pom.xml'), lib, `Delta Kernel ${DELTA_KERNEL_VERSION}`, () => {});
  const hash = createHash('sha256').update(readFileSync(SOURCE)).digest('hex').slice(0, 12);
  const classes = join(root, `classes-${hash}`);
  if (!existsSync(classes)) {
    const building = `${classes}.${process.pid}.tmp`;
    mkdirSync(building, { recursive: true });
    try {
      run('javac', ['-d', building, '-cp', `${lib}/*`, SOURCE], 'could not compile the Delta Kernel reader');
      renameSync(building, classes);
    } catch (error) {
      rmSync(building, { recursive: true, force: true });
      // Another test process compiled the same source meanwhile.
      if (!existsSync(classes)) throw error;
    }
  }
  return `${lib}/*:${classes}`;
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
  const args = ['-cp', classpath(), 'DeltaKernelRead', table, ...snapshots];
  for (const appId of appIds) args.push('--txn', appId);
  const { stdout } = await promisify(execFile)('java', args, { maxBuffer: 16 << 20, timeout: 180_000 });
  const last = stdout.trim().split('\n').at(-1) ?? '';
  return (JSON.parse(last) as { snapshots: KernelSnapshot[] }).snapshots;
}
