// Stored validation reports: one NDJSON file per UTC day under <dataDir>/quality/reports/.
import { appendFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BatchReport } from './report.ts';
import type { WindowReport } from './windows.ts';

export type StoredReport = BatchReport | WindowReport;

/** Half-open time range [from, to) in ms since epoch; either end may be open. */
export interface ReportRange {
  from?: number;
  to?: number;
  kind?: StoredReport['kind'];
}

export interface ReportStore {
  append(reports: readonly StoredReport[]): Promise<void>;
  /** Reports whose time (a batch's `at`, a window's `start`) is in range, oldest first. */
  list(range?: ReportRange): Promise<StoredReport[]>;
}

export function reportsDir(dataDir: string): string {
  return join(dataDir, 'quality', 'reports');
}

const timeOf = (report: StoredReport) => (report.kind === 'batch' ? report.at : report.start);
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const DAY_FILE = /^(\d{4}-\d{2}-\d{2})\.ndjson$/;

export class FileReportStore implements ReportStore {
  constructor(private readonly dir: string) {}

  async append(reports: readonly StoredReport[]): Promise<void> {
    const byDay = new Map<string, string>();
    for (const report of reports) {
      const day = dayOf(timeOf(report));
      byDay.set(day, `${byDay.get(day) ?? ''}${JSON.stringify(report)}\n`);
    }
    await mkdir(this.dir, { recursive: true });
    // One write per file keeps a day's lines whole under O_APPEND.
    await Promise.all([...byDay].map(([day, lines]) => appendFile(join(this.dir, `${day}.ndjson`), lines)));
  }

  async list({ from = Number.NEGATIVE_INFINITY, to = Number.POSITIVE_INFINITY, kind }: ReportRange = {}) {
    const names = await readdir(this.dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    const firstDay = Number.isFinite(from) ? dayOf(from) : '';
    const lastDay = Number.isFinite(to) ? dayOf(to) : '\uffff';
    const days = names
      .map((name) => DAY_FILE.exec(name)?.[1])
      .filter((day): day is string => day !== undefined && day >= firstDay && day <= lastDay)
      .sort();
    const reports: StoredReport[] = [];
    for (const day of days) {
      const lines = (await readFile(join(this.dir, `${day}.ndjson`), 'utf8')).split('\n');
      for (const [index, line] of lines.entries()) {
        if (line === '') continue;
        let report: StoredReport;
        try {
          report = JSON.parse(line);
        } catch (error) {
          // A crash mid-append can leave the last line torn; anywhere else it is corruption.
          if (index === lines.length - 1) continue;
          throw error;
        }
        const time = timeOf(report);
        if (time >= from && time < to && (kind === undefined || report.kind === kind)) reports.push(report);
      }
    }
    return reports.sort((a, b) => timeOf(a) - timeOf(b));
  }
}
