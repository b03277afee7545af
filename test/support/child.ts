// A `tidewater` command as a child process, for tests that kill and restart a component.
import { type ChildProcess, spawn } from 'node:child_process';

export function startTidewater(args: readonly string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ['bin/tidewater.js', ...args], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** Resolves with the exit code (null when a signal ended it), also for a child already gone. */
export const exited = (child: ChildProcess): Promise<number | null> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
