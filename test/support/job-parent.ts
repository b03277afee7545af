// A platform stand-in for the orchestration test: starts a recompute in a job child process that
// blocks on its input (a FIFO nobody writes), prints the child's pid, and waits to be killed.
import { jobProcesses } from '../../orchestration/index.ts';
import { runInChild } from '../../orchestration/job-process.ts';

const [fifo] = process.argv.slice(2);
void runInChild(
  {
    kind: 'recompute',
    options: {
      files: [fifo as string],
      from: '2025-01-01T00:00:00Z',
      to: '2025-01-02T00:00:00Z',
      collectRows: false,
    },
  },
  { nice: 0 },
).catch(() => undefined);
const started = setInterval(() => {
  const [pid] = jobProcesses();
  if (pid === undefined) return;
  clearInterval(started);
  console.log(pid);
}, 50);
setInterval(() => undefined, 60_000);
