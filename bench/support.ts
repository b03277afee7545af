import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import type { TidewaterEvent } from '../contracts/index.ts';
import { generate } from '../generator/index.ts';
import type { AcceptedRecord } from '../quality/index.ts';

/** Median of a non-empty list. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Percentile (0..100) by nearest rank. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/** Progress goes to stderr, so stdout ends with the one JSON line a runner reads. */
export const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/**
 * A bench's positional arguments, checked before it starts anything: a word it does not take (say
 * `--help`) stops it with its usage, where `Number()` of it had started a run with NaN in its
 * figures. `usage` is the line the bench's header gives.
 */
export function benchArgs(usage: string) {
  const args = process.argv.slice(2);
  /** How many arguments the bench has read so far: any past them is one it does not take. */
  let taken = 0;
  const refuse = (problem: string): never => {
    process.stderr.write(`${problem}\nUsage: ${usage}\n`);
    process.exit(2);
  };
  const read = (position: number) => {
    taken = Math.max(taken, position + 1);
    return args[position];
  };
  return {
    /** Argument `position` (0: the first) as a positive number (or zero, if allowed); `fallback` when absent. */
    number(position: number, name: string, fallback: number, { allowZero = false } = {}): number {
      const raw = read(position);
      if (raw === undefined) return fallback;
      const value = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(value) || value < 0 || (value === 0 && !allowZero))
        refuse(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, not "${raw}"`);
      return value;
    },
    /** Argument `position` as one of `options`; the first when absent. */
    choice<T extends string>(position: number, name: string, options: readonly [T, ...T[]]): T {
      const raw = read(position) ?? options[0];
      if (!(options as readonly string[]).includes(raw))
        refuse(`${name} must be one of ${options.join(', ')}, not "${raw}"`);
      return raw as T;
    },
    /** Once every argument is read: stops on any past them. */
    done(): void {
      if (args.length > taken) refuse(`unexpected argument "${args[taken]}"`);
    },
  };
}

/** The bench's last line of output: one JSON object with its figures and targets. */
export function report(figures: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

/** A generated event as the quality gate hands it to a sink: accepted, at `offset` of partition 0. */
export function acceptedAt(event: TidewaterEvent, value: Buffer, offset: number): AcceptedRecord {
  return {
    source: { topic: 'events', partition: 0, offset: String(offset), key: null, value, timestamp: 0 },
    event,
    eventTimeMs: Date.parse(event.eventTime),
    late: false,
    warnings: [],
  };
}

/**
 * The fields of a /proc stat file after the command name, which may hold spaces: the state (field 3
 * in proc(5)) is index 0, utime 11, stime 12, cutime 13, cstime 14.
 */
export function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * CPU time (µs) this process's threads have used, by kind: the main thread, the other JS threads
 * (worker threads such as the speed layer's gate thread, and V8's garbage-collection helpers, which
 * Node names alike), and the rest under their own thread names (chDB's query pool, its merges, ...).
 * Empty where /proc is not there.
 */
export function threadCpu(): Map<string, number> {
  const cpu = new Map<string, number>();
  const tasks = '/proc/self/task';
  if (!existsSync(tasks)) return cpu;
  const tickMicros = 10_000; // USER_HZ is 100 on Linux
  for (const tid of readdirSync(tasks)) {
    let stat: string;
    try {
      stat = readFileSync(`${tasks}/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = statFields(stat);
    const kind =
      tid === String(process.pid)
        ? 'main'
        : name === 'node'
          ? 'other JS threads'
          : name.replace(/[\d:]+$/, '');
    cpu.set(kind, (cpu.get(kind) ?? 0) + (Number(fields[11]) + Number(fields[12])) * tickMicros);
  }
  return cpu;
}

/**
 * Seconds this process's main thread has been ready to run and waited for a core (the kernel's
 * schedstat; 0 where it is not there): on a full machine, time the event loop loses to every other
 * thread and process.
 */
export function eventLoopWaitSeconds(): number {
  try {
    const [, waitNs = '0'] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ');
    return Number(waitNs) / 1e9;
  } catch {
    return 0;
  }
}

/** The flags bin/tidewater.js's first line runs the platform with, for the processes a bench starts. */
export const PLATFORM_NODE_FLAGS = ['--max-semi-space-size=64', '--v8-pool-size=0'];

/**
 * `tidewater generate` in a process of its own, offering `rate` events/s to the events topic until
 * it has produced `count`. A bench that throws must not leave it producing into Kafka after it: this
 * process's exit stops it, and a bench killed outright (no exit hook runs) leaves it at most `count`.
 */
export function generateToKafka(env: NodeJS.ProcessEnv, rate: number, count: number): ChildProcess {
  const generator = spawn(
    process.execPath,
    [
      ...PLATFORM_NODE_FLAGS,
      'bin/tidewater.js',
      'generate',
      '--rate',
      String(rate),
      '--count',
      String(count),
      '--to',
      'kafka',
    ],
    { env, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  process.on('exit', () => generator.kill());
  return generator;
}

/** CPU per event of each thread kind since `from` (a threadCpu reading), largest first. */
export function describeThreadCpu(from: Map<string, number>, events: number): string {
  return [...threadCpu()]
    .map(([kind, micros]) => [kind, (micros - (from.get(kind) ?? 0)) / events] as const)
    .filter(([, perEvent]) => perEvent >= 0.1)
    .sort((a, b) => b[1] - a[1])
    .map(([kind, perEvent]) => `${kind} ${perEvent.toFixed(1)}`)
    .join(', ');
}

/** Fresh memory is handed out in pages of this size; the probe touches each once. */
const PAGE_BYTES = 4096;
/**
 * Above glibc's largest mmap threshold (32 MB), so every probe is mapped afresh and unmapped when
 * let go, whatever sizes the process allocated before: the rate is the kernel's, not the allocator's.
 */
const PROBE_BYTES = 64 * 1024 * 1024;

/**
 * How fast this process gets memory it has not touched before (MB/s): buffers of 64 MB allocated,
 * each page written once, and let go, for ~`ms`. Most of it is the kernel's page faults, which a
 * JSON.parse rate does not see: on a virtual machine whose faults are expensive every layer that
 * allocates large buffers (fetch responses, insert bodies, DuckDB after its allocator trims) slows
 * with it. Measured: ~325 MB/s alone (a 4 KB fault ~12 µs) and 159-242 MB/s at the end of soaks on
 * the 2-core machine on a day the soak ran a quarter slower at an unchanged JSON.parse rate.
 */
function freshMemoryRate(ms: number): number {
  let bytes = 0;
  const started = performance.now();
  while (performance.now() - started < ms) {
    const probe = Buffer.allocUnsafeSlow(PROBE_BYTES);
    for (let at = 0; at < PROBE_BYTES; at += PAGE_BYTES) probe[at] = 1;
    bytes += PROBE_BYTES;
  }
  return Math.round(bytes / (1024 * 1024) / ((performance.now() - started) / 1000));
}

/**
 * The `calibration` of a bench's last line: how fast this machine ran fixed reference workloads in
 * the same run, so figures of runs on differently loaded machines can be compared: JSON.parse of
 * the bench's own event records on one core (for ~`ms`), and fresh memory (freshMemoryRate). Also
 * the load average (1, 5, 15 min).
 */
export function calibrate(
  values: readonly (Buffer | string)[],
  ms = 1_000,
): { json_parse_events_per_s: number; fresh_memory_mb_per_s: number; load_average: number[] } {
  const texts = values.map(String);
  if (texts.length === 0) throw new Error('calibrate needs sample events');
  let parsed = 0;
  const started = performance.now();
  while (performance.now() - started < ms) {
    for (const text of texts) JSON.parse(text);
    parsed += texts.length;
  }
  return {
    json_parse_events_per_s: Math.round((parsed / (performance.now() - started)) * 1000),
    fresh_memory_mb_per_s: freshMemoryRate(ms / 3),
    load_average: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** calibrate() over 2,000 generated retail events, for benches whose own work is not events. */
export const referenceCalibration = () =>
  calibrate([...generate({ seed: 1, count: 2_000 })].map((r) => r.value ?? ''));
