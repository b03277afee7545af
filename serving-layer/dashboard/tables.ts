// The dashboard's list panels: small tables refreshed by polling, drawn with textContent only (values
// come from events, so never as HTML).
import type { Cell, Quarantined, Row } from './answer.ts';

export interface Column {
  label: string;
  value: (row: Row) => Cell;
  /** Secondary text under the value, e.g. the code behind a name. */
  detail?: (row: Row) => string;
  numeric?: boolean;
}

export function renderTable(
  host: HTMLElement,
  columns: readonly Column[],
  rows: readonly Row[],
  empty: string,
  flag?: (row: Row) => boolean,
): void {
  if (rows.length === 0) {
    const p = document.createElement('p');
    p.className = 'empty';
    p.textContent = empty;
    host.replaceChildren(p);
    return;
  }
  const table = document.createElement('table');
  const head = table.createTHead().insertRow();
  for (const column of columns) {
    const th = document.createElement('th');
    th.textContent = column.label;
    if (column.numeric) th.className = 'num';
    head.append(th);
  }
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    if (flag?.(row)) tr.className = 'flagged';
    for (const column of columns) {
      const td = tr.insertCell();
      const value = column.value(row);
      td.textContent = typeof value === 'number' ? value.toLocaleString() : String(value ?? '');
      const detail = column.detail?.(row);
      // Long names are cut to the column: the whole text on hover.
      td.title = detail ? `${td.textContent}\n${detail}` : td.textContent;
      if (detail) {
        const small = document.createElement('small');
        small.textContent = detail;
        td.append(small);
      }
      if (column.numeric) td.className = 'num';
    }
  }
  host.replaceChildren(table);
}

/**
 * Quarantined records per rule over the window, as counts and a per-minute rate: the counts of an
 * answer whose range is the whole window (a live delta's cover only the minutes it carries).
 */
export function renderQuarantine(host: HTMLElement, quarantined: Quarantined | null, windowMs: number): void {
  const byRule = quarantined?.byRule ?? {};
  const minutes = windowMs / 60_000;
  const rows = Object.entries(byRule)
    .sort(([, a], [, b]) => b - a)
    .map(([rule, count]) => ({ rule, count, rate: Math.round((count / minutes) * 100) / 100 }));
  const max = Math.max(1, ...rows.map((r) => r.count));
  if (!quarantined) {
    host.textContent = 'quarantine counts unavailable';
    return;
  }
  if (rows.length === 0) {
    host.textContent = 'nothing quarantined in the window';
    return;
  }
  const list = document.createElement('ul');
  list.className = 'bars';
  for (const row of rows) {
    const item = document.createElement('li');
    const label = document.createElement('span');
    label.textContent = row.rule;
    label.dataset.rule = row.rule;
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = `${(row.count / max) * 100}%`;
    const figure = document.createElement('span');
    figure.className = 'num';
    figure.textContent = `${row.count.toLocaleString()} (${row.rate}/min)`;
    figure.dataset.value = String(row.count);
    item.append(label, bar, figure);
    list.append(item);
  }
  host.replaceChildren(list);
}
