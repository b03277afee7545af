// docs/quickstart.md and the README's curl examples, run as a newcomer runs them: `npm start` in
// one process group (stopped at the end with SIGINT, as Ctrl-C does), then each `sh` block of the
// page in bash, in order, with what one block exports kept for the next. Each block must succeed
// (curl fails on an HTTP error here) and print every line of the `text` blocks that follow it,
// where `…` stands for anything. Three things differ from the page, as they must on a shared
// machine: the platform gets topics, groups, a data directory and a Redis prefix of its own and
// free ports, so the commands' 127.0.0.1:8080 and :8123 become the ports it printed, and the
// placeholder key in `export TIDEWATER_KEY=…` becomes the key it printed.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka } from '../kafka/index.ts';
import { type Isolated, isolation } from './support/isolation.ts';

const STARTED_WITHIN_MS = 180_000;
const STEP_TIMEOUT_MS = 240_000;

interface Step {
  /** The shell text of one `sh` block. */
  commands: string;
  /** Lines of the `text` blocks after it: what its output must show. */
  shows: string[];
}

/** The `sh` blocks of a Markdown page, each with the `text` blocks that follow it. */
function steps(markdown: string): Step[] {
  const out: Step[] = [];
  for (const [, lang, body = ''] of markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)) {
    if (lang === 'sh') out.push({ commands: body, shows: [] });
    else if (lang === 'text')
      out.at(-1)?.shows.push(...body.split('\n').filter((line) => line.trim() !== ''));
  }
  return out;
}

/** A shown line as a pattern: literal text, `…` for anything. */
const pattern = (line: string) =>
  new RegExp(
    line
      .split('…')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*'),
  );

const quickstart = steps(readFileSync('docs/quickstart.md', 'utf8'));
const readme = readFileSync('README.md', 'utf8');
/** The README's curl examples: the `sh` blocks with curl in them, and inline `curl …` spans. */
const readmeCurls = [
  ...steps(readme)
    .map((s) => s.commands)
    .filter((c) => /^curl /m.test(c)),
  ...[...readme.matchAll(/`(curl [^`]+)`/g)].map((m) => m[1] ?? ''),
];

const isolated = isolation('quickstart');
let env: Isolated;
let platform: ChildProcess;
let output = '';
let printed: { api: string; clickhouse: string; key: string };
const stateDir = mkdtempSync(join(tmpdir(), 'tidewater-quickstart-'));
const state = join(stateDir, 'exports.sh');

/** What the page's commands say, pointed at this platform. */
const local = (text: string) =>
  text
    .replaceAll('127.0.0.1:8080', printed.api)
    .replaceAll('127.0.0.1:8123', printed.clickhouse)
    .replace(/^export TIDEWATER_KEY=tw_\S*/m, `export TIDEWATER_KEY=${printed.key}`);

/** Runs one block in bash; what it exports is kept in `state` for the next blocks. */
function bash(commands: string): Promise<{ code: number | null; output: string }> {
  const exported = [...commands.matchAll(/^export (\w+)=/gm)].map((m) => m[1]);
  const script = [
    'set -euo pipefail',
    `[ -f '${state}' ] && source '${state}'`,
    // A failed request must fail the block, as it would fail the reader.
    'curl() { command curl --fail-with-body --silent --show-error "$@"; }',
    commands,
    ...exported.map((name) => `declare -p ${name} >> '${state}'`),
  ].join('\n');
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', script], { env: env.env });
    let text = '';
    child.stdout.on('data', (chunk) => {
      text += chunk;
    });
    child.stderr.on('data', (chunk) => {
      text += chunk;
    });
    child.on('close', (code) => resolve({ code, output: text }));
  });
}

async function runStep(step: Step): Promise<void> {
  const { code, output: shown } = await bash(local(step.commands));
  expect(code, `${step.commands}\n${shown}`).toBe(0);
  const lines = shown.split(/[\r\n]+/);
  for (const line of step.shows)
    expect(
      lines.some((l) => pattern(local(line)).test(l)),
      `"${line}" not in the output of\n${step.commands}\n${shown}`,
    ).toBe(true);
}

beforeAll(async () => {
  env = await isolated('platform');
  env.env = {
    ...env.env,
    TIDEWATER_SPEED_GROUP: `${env.groupId}-speed`,
    TIDEWATER_LAKE_GROUP: `${env.groupId}-lake`,
    TIDEWATER_QUEUE_PREFIX: env.groupId,
    TIDEWATER_API_PORT: '0',
    TIDEWATER_CLICKHOUSE_HTTP_PORT: '0',
    // The page's backfill step shows the watermark its backfill leaves; the hourly recompute (at
    // :20) would move it to the current hour whenever a run spans that minute, as a CI run did.
    TIDEWATER_RECOMPUTE_CRON: 'off',
    // The log level a newcomer has: what it prints is part of the first hour.
    LOG_LEVEL: 'info',
  };
  const [start] = quickstart;
  expect(start?.commands.trim()).toBe('npm start');
  // Its own process group: Ctrl-C in a terminal signals the whole group.
  platform = spawn('npm', ['start'], { env: env.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  platform.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  platform.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const deadline = Date.now() + STARTED_WITHIN_MS;
  while (!output.includes('Ctrl-C stops.')) {
    if (platform.exitCode !== null || Date.now() > deadline)
      throw new Error(`npm start did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const [, api = ''] = /^API: http:\/\/(\S+)/m.exec(output) ?? [];
  const [, clickhouse = ''] = /^ClickHouse interface for BI tools: http:\/\/(\S+)/m.exec(output) ?? [];
  const [, key = ''] = /^ {2}export TIDEWATER_KEY=(\S+)$/m.exec(output) ?? [];
  printed = { api, clickhouse, key };
  expect(printed.key, output).toMatch(/^tw_/);
}, STARTED_WITHIN_MS + 10_000);

afterAll(async () => {
  // A failed test may have left it running.
  if (platform?.pid && platform.exitCode === null && platform.signalCode === null)
    try {
      process.kill(-platform.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  rmSync(stateDir, { recursive: true, force: true });
  const admin = createKafka(env.cfg, 'test').admin();
  await admin.connect();
  await admin
    .deleteGroups([`${env.groupId}-speed`, `${env.groupId}-lake`, `${env.groupId}-replay`])
    .catch(() => undefined);
  await admin.disconnect();
  const redis = new Redis(env.cfg.redisUrl);
  const stale = await redis.keys(`${env.groupId}:*`);
  if (stale.length > 0) await redis.unlink(...stale);
  redis.disconnect();
});

describe('docs/quickstart.md, run as written', () => {
  it('npm start prints the lines the page shows', () => {
    const lines = output.split('\n');
    for (const line of quickstart[0]?.shows ?? [])
      expect(
        lines.some((l) => pattern(local(line)).test(l)),
        `"${line}" not in\n${output}`,
      ).toBe(true);
  });

  quickstart.slice(1).forEach((step, i) => {
    it(`block ${i + 2}: ${step.commands.trim().split('\n')[0]}`, () => runStep(step), STEP_TIMEOUT_MS);
  });
});

describe("the README's curl examples, pasted after npm start", () => {
  it("finds them: the examples block and the BI section's", () => {
    expect(readmeCurls.join('\n').match(/^curl /gm)?.length).toBeGreaterThan(5);
  });

  readmeCurls.forEach((commands, i) => {
    it(`example ${i + 1}: ${commands.split('\n').find((l) => l.startsWith('curl'))}`, () =>
      runStep({ commands, shows: [] }));
  });
});

describe('stopping', () => {
  it('Ctrl-C stops the platform cleanly, and nothing it printed was an error', async () => {
    const exited = new Promise((resolve) => platform.once('exit', resolve));
    if (platform.pid) process.kill(-platform.pid, 'SIGINT');
    await exited;
    expect(output).toContain('stopped.');
    // Consumer groups re-balance at every start; that is no error (kafka/log.ts).
    expect(output.split('\n').filter((line) => /\bERROR\b|"level":\s*50/.test(line))).toEqual([]);
  }, 120_000);
});
