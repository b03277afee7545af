import { type Command, InvalidArgumentError } from 'commander';
import { config } from '../config/index.ts';
import type { QuarantineFilter, QuarantineListItem, QuarantineStore } from '../quality/quarantine/index.ts';

/** Records `list` prints when no --limit is given. */
const DEFAULT_LIST_LIMIT = 50;

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function filterOptions(cmd: Command): Command {
  return cmd
    .option('--rule <ruleId>', 'records that failed this rule')
    .option('--event-type <type>', 'records of this event type')
    .option('--from <iso>', 'rejected at or after this time (ISO 8601)')
    .option('--to <iso>', 'rejected before this time (ISO 8601)')
    .option('--limit <n>', 'at most this many records, oldest rejection first', positiveInt);
}

const filterOf = ({ rule, eventType, from, to, limit }: QuarantineFilter): QuarantineFilter => ({
  rule,
  eventType,
  from,
  to,
  limit,
});

/** The store's modules (DuckDB, Kafka) load only for the commands that use it. */
const lake = () => import('../lake/index.ts');
const quarantine = () => import('../quality/quarantine/index.ts');

async function withStore<T>(use: (store: QuarantineStore) => Promise<T>): Promise<T> {
  const { openQuarantineStore, quarantineTableDir } = await lake();
  const store = await openQuarantineStore(quarantineTableDir(config().dataDir));
  try {
    return await use(store);
  } finally {
    store.close();
  }
}

const formatItem = (r: QuarantineListItem): string =>
  [
    r.rejectedAt,
    r.id,
    r.eventType ?? '-',
    r.ruleIds.join(','),
    r.replayed ? 'replayed' : '',
    r.failures[0]?.message.slice(0, 100) ?? '',
  ].join('  ');

export function registerQuarantine(program: Command): void {
  const cmd = program
    .command('quarantine')
    .description('inspect and replay rejected records (the quarantine lake table)');

  filterOptions(
    cmd.command('list').description('list quarantined records with counts by rule and event type'),
  )
    .option('--json', 'print JSON')
    .action((opts: QuarantineFilter & { json?: boolean }) =>
      withStore(async (store) => {
        // The counts cover every match, not only the records printed.
        const { limit = DEFAULT_LIST_LIMIT, ...selection } = filterOf(opts);
        const records = await store.list({ ...selection, limit });
        const summary = await store.summary(selection);
        if (opts.json) {
          console.log(JSON.stringify({ records, summary }, null, 2));
          return;
        }
        for (const r of records) console.log(formatItem(r));
        console.log(`\n${records.length} shown of ${summary.total}`);
        for (const r of summary.byRule) console.log(`  rule ${r.ruleId}: ${r.count}`);
        for (const t of summary.byEventType)
          console.log(`  event type ${t.eventType ?? '(unknown)'}: ${t.count}`);
      }),
    );

  cmd
    .command('show')
    .description('print a record, by eventId or topic:partition:offset, with its original bytes')
    .argument('<id>', 'eventId or topic:partition:offset of the source record')
    .action((id: string) =>
      withStore(async (store) => {
        const { renderOriginal } = await quarantine();
        const records = await store.show(id);
        if (records.length === 0) throw new Error(`no quarantined record ${id}`);
        const shown = records.map(({ key, original, ...rest }) => ({
          ...rest,
          key: renderOriginal(key),
          original: renderOriginal(original),
        }));
        console.log(JSON.stringify(shown.length === 1 ? shown[0] : shown, null, 2));
      }),
    );

  filterOptions(
    cmd.command('replay').description('re-validate with the current rules; republish what passes'),
  )
    .option('--dry-run', 'validate and count only; send nothing')
    .action((opts: QuarantineFilter & { dryRun?: boolean }) =>
      withStore(async (store) => {
        const { replayWithCurrentRules } = await quarantine();
        const counts = await replayWithCurrentRules({
          store,
          filter: filterOf(opts),
          cfg: config(),
          dryRun: opts.dryRun,
          onProgress: (p) => console.error(`processed ${p.processed} of ${p.selected - p.alreadyReplayed}`),
        });
        console.log(JSON.stringify(counts, null, 2));
      }),
    );
}
