// What the lake's log says about the UTC hours of event time. The events table partitions by date
// and hour of event time, and every catalog metric rolls up per minute of event time, so a batch
// view's rows of an hour depend only on the lake files of that hour's partition: a commit that adds
// or removes no data there (compaction says dataChange: false) leaves them as they were.
import { type Action, readVersion } from '../lake/index.ts';
import { HOUR_MS } from './time.ts';

/** The hours a commit's data changes touched, with the rows its adds brought to each. */
export interface CommitHours {
  hours: Map<number, number>;
  /** A data change whose hour the log does not say, or a metadata change: any hour may differ. */
  unknown: boolean;
}

const hourStartOf = (values: Record<string, string | null> | undefined): number => {
  const date = values?.date;
  const hour = values?.hour;
  if (!date || hour === null || hour === undefined || !/^\d{1,2}$/.test(hour)) return Number.NaN;
  return Date.parse(`${date}T00:00:00Z`) + Number(hour) * HOUR_MS;
};

function hoursOfActions(actions: readonly Action[]): CommitHours {
  const hours = new Map<number, number>();
  let unknown = false;
  for (const action of actions) {
    if ('metaData' in action) unknown = true;
    const change = 'add' in action ? action.add : 'remove' in action ? action.remove : undefined;
    if (!change?.dataChange) continue;
    const hour = hourStartOf(change.partitionValues);
    if (!Number.isFinite(hour)) {
      unknown = true;
      continue;
    }
    const rows =
      'add' in action && action.add.stats ? Number(JSON.parse(action.add.stats).numRecords ?? 0) : 0;
    hours.set(hour, (hours.get(hour) ?? 0) + rows);
  }
  return { hours, unknown };
}

export const commitHours = async (lakeDir: string, version: number): Promise<CommitHours> =>
  hoursOfActions(await readVersion(lakeDir, version));

/**
 * The hours whose data changed in the lake versions (after, upTo]; undefined when the log cannot
 * say (a version expired from the log, a metadata change, a data change without its hour), so that
 * a caller falls back to treating every hour as changed.
 */
export async function hoursChangedBetween(
  lakeDir: string,
  after: number,
  upTo: number,
): Promise<Set<number> | undefined> {
  const changed = new Set<number>();
  for (let version = after + 1; version <= upTo; version++) {
    let commit: CommitHours;
    try {
      commit = await commitHours(lakeDir, version);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    if (commit.unknown) return undefined;
    for (const hour of commit.hours.keys()) changed.add(hour);
  }
  return changed;
}
