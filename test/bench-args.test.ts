// The benches' arguments as a user types them (a child process each): a word a bench does not take
// stops it with its usage before it starts anything, where `Number()` of it had started a run.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function bench(script: string, args: string[]) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', `bench/${script}.ts`, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('bench arguments', () => {
  it('refuses a word where a number goes, with the usage line, before any work', () => {
    const run = bench('jobs', ['--help']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('events must be a positive number, not "--help"');
    expect(run.stderr).toContain('Usage: npm run bench:jobs -- [events=6000000]');
    // Nothing ran: no progress line, no JSON figures.
    expect(run.stdout).toBe('');
  });

  it('refuses zero, a choice it does not offer, and an argument too many', () => {
    expect(bench('gate', ['0']).stderr).toContain('records must be a positive number, not "0"');
    const soak = bench('soak', ['10', '50000', 'both', 'nojob']);
    expect(soak.status).toBe(2);
    expect(soak.stderr).toContain('jobs must be one of jobs, nojobs, not "nojob"');
    const extra = bench('gate', ['1000', 'more']);
    expect(extra.status).toBe(2);
    expect(extra.stderr).toContain('unexpected argument "more"');
  });
});
