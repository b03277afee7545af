import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** A background process that `services up` started, remembered by a pid file. */
export interface ManagedProcess {
  name: string;
  pidFile: string;
  logFile: string;
  /** A substring of the command line that identifies the process, so a recycled pid is never killed. */
  signature: string;
}

export function readPid(p: ManagedProcess): number | undefined {
  try {
    const pid = Number(fs.readFileSync(p.pidFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The pid of `p` if the pid file names a live process that is really ours. */
export function runningPid(p: ManagedProcess): number | undefined {
  const pid = readPid(p);
  if (pid === undefined) return undefined;
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    return cmdline.includes(p.signature) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Starts `command` detached, with output appended to the log file, and writes the pid file. */
export function startDetached(p: ManagedProcess, command: string, args: string[], cwd: string): number {
  fs.mkdirSync(path.dirname(p.pidFile), { recursive: true });
  const log = fs.openSync(p.logFile, 'a');
  const child = spawn(command, args, { cwd, detached: true, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  if (child.pid === undefined) throw new Error(`could not start ${p.name} (${command})`);
  child.unref();
  fs.writeFileSync(p.pidFile, `${child.pid}\n`);
  return child.pid;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops a process we started: SIGTERM, then SIGKILL after `graceMs`. Returns whether one was running. */
export async function stopManaged(p: ManagedProcess, graceMs = 30_000): Promise<boolean> {
  const pid = runningPid(p);
  fs.rmSync(p.pidFile, { force: true });
  if (pid === undefined) return false;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(200);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  return true;
}

/** Polls `check` until it holds or `timeoutMs` passes; `died` ends the wait early. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  died: () => boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    if (died()) throw new Error(`${what} exited during start-up`);
    await sleep(250);
  }
  throw new Error(`${what} did not answer within ${Math.round(timeoutMs / 1000)} s`);
}

export function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
