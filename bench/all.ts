// `npm run bench`: every benchmark in turn, then one table of its figures against their targets.
// Each bench runs as its own npm script (its progress goes to the terminal) and its last line of
// output, one JSON object, is read back. `npm run bench -- gate serve` runs only those.
import { spawn } from 'node:child_process';
import { soakTargets } from './soak-verdict.ts';
import { report, say } from './support.ts';

/**
 * A figure against its target, compared as the issue states it (`higher`: at least, `lower`: under,
 * `at most`), or a verdict the bench itself gives.
 */
type Better = 'higher' | 'lower' | 'at most';
type Check = { figure: string; target: number; better: Better } | { figure: string; verdict: true };
const MEETS: Record<Better, (value: number, target: number) => boolean> = {
  higher: (v, t) => v >= t,
  lower: (v, t) => v < t,
  'at most': (v, t) => v <= t,
};
const SIGN: Record<Better, string> = { higher: '>=', lower: '<', 'at most': '<=' };

/** The soak's own targets (it judges its layers by them too); its offer is bench:soak's default. */
const SOAK = soakTargets(50_000);

/** The targets the issues set, per bench. */
const TARGETS: Record<string, Check[]> = {
  produce: [{ figure: 'events_per_s', target: 150_000, better: 'higher' }],
  gate: [{ figure: 'events_per_s', target: 250_000, better: 'higher' }],
  speed: [
    { figure: 'events_per_s', target: 100_000, better: 'higher' },
    { figure: 'p99_ms', target: 1_000, better: 'at most' },
  ],
  lake: [
    { figure: 'write_events_per_s', target: 150_000, better: 'higher' },
    { figure: 'backfill_vs_duckdb', target: 0.8, better: 'higher' },
  ],
  'lake-trickle': [
    { figure: 'files_per_million_events', target: 20, better: 'at most' },
    { figure: 'commits_per_hour', target: 120, better: 'at most' },
  ],
  serve: [{ figure: 'p99_ms', target: 50, better: 'lower' }],
  ingest: [
    { figure: 'events_per_s', target: 50_000, better: 'higher' },
    { figure: 'live_p99_ms', target: 1_000, better: 'lower' },
  ],
  bi: [
    { figure: 'p99_ms', target: 500, better: 'lower' },
    { figure: 'speed_lag_max_s', target: 5, better: 'lower' },
  ],
  late: [{ figure: 'hidden_event_seconds_p99', target: 5, better: 'at most' }],
  quarantine: [{ figure: 'rejections_per_s', target: 50_000, better: 'higher' }],
  jobs: [
    { figure: 'optimize_peak_mb', target: 512, better: 'at most' },
    { figure: 'recompute_peak_mb', target: 512, better: 'at most' },
    // The hourly recompute keeps up with an hour of the platform's 50,000 events/s.
    { figure: 'hourly_recompute_events_per_s', target: 50_000, better: 'higher' },
  ],
  soak: [
    // Issue 23: each layer keeps up with the offer, as the soak judges it from its lag and take.
    { figure: 'speed_keeps_up', verdict: true },
    { figure: 'lake_keeps_up', verdict: true },
    { figure: 'peak_rss_mb', target: SOAK.peak_rss_mb, better: 'lower' },
    { figure: 'rss_growth_mb_per_min', target: SOAK.rss_growth_mb_per_min, better: 'at most' },
  ],
};

function run(name: string): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '--silent', `bench:${name}`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk;
      process.stderr.write(chunk);
    });
    child.on('close', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      try {
        resolve(code === 0 ? (JSON.parse(last) as Record<string, unknown>) : undefined);
      } catch {
        resolve(undefined);
      }
    });
  });
}

const chosen = process.argv.slice(2);
const names = chosen.length > 0 ? chosen : Object.keys(TARGETS);
const unknown = names.filter((n) => !(n in TARGETS));
if (unknown.length > 0)
  throw new Error(`unknown bench ${unknown.join(', ')}; one of ${Object.keys(TARGETS).join(', ')}`);

const rows: { bench: string; figure: string; value: string; target: string; met: string }[] = [];
const summary: Record<string, unknown> = { bench: 'all' };
for (const name of names) {
  say(`\n=== bench:${name} ===`);
  const figures = await run(name);
  for (const check of TARGETS[name] ?? []) {
    const value = figures?.[check.figure];
    let met: string;
    if ('verdict' in check) met = typeof value !== 'boolean' ? 'failed' : value ? 'yes' : 'no';
    else met = typeof value !== 'number' ? 'failed' : MEETS[check.better](value, check.target) ? 'yes' : 'no';
    rows.push({
      bench: name,
      figure: check.figure,
      value: typeof value === 'number' || typeof value === 'boolean' ? String(value) : 'n/a',
      target: 'verdict' in check ? 'true' : `${SIGN[check.better]} ${check.target}`,
      met,
    });
    summary[`${name}.${check.figure}`] = value ?? null;
  }
}

const columns = ['bench', 'figure', 'value', 'target', 'met'] as const;
const width = (c: (typeof columns)[number]) => Math.max(c.length, ...rows.map((r) => r[c].length));
const line = (cells: Record<(typeof columns)[number], string>) =>
  columns.map((c) => cells[c].padEnd(width(c))).join('  ');
say(`\n${line({ bench: 'bench', figure: 'figure', value: 'value', target: 'target', met: 'met' })}`);
for (const r of rows) say(line(r));
report(summary);
