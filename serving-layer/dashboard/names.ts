// Names and categories of the codes the panels show (products, stores, fulfilment centres), from
// GET /v1/dimensions/:table. Each code is asked for once; a code no table knows stays a code.
import type { Row } from './answer.ts';
import { getJson } from './api.ts';

export type DimensionTable = 'products' | 'stores' | 'fulfilment_centres';

export class DimensionNames {
  /** `table/code` -> its row, or null once the table said it has no such code. */
  private readonly rows = new Map<string, Row | null>();

  /** Fetches the rows of the codes not asked for yet; a failed fetch leaves them codes for now. */
  async load(table: DimensionTable, codes: Iterable<string>): Promise<void> {
    const missing = [...new Set(codes)].filter((code) => code !== '' && !this.rows.has(`${table}/${code}`));
    if (missing.length === 0) return;
    try {
      const answer = await getJson<{ key: string; rows: Row[] }>(
        `/v1/dimensions/${table}?id=${encodeURIComponent(missing.join(','))}`,
      );
      for (const code of missing) this.rows.set(`${table}/${code}`, null);
      for (const row of answer.rows) this.rows.set(`${table}/${String(row[answer.key])}`, row);
    } catch {
      // The panel still shows the codes; the next refresh asks again.
    }
  }

  /** The row of `code` in the first of `tables` that has it. */
  find(tables: readonly DimensionTable[], code: string): Row | undefined {
    for (const table of tables) {
      const row = this.rows.get(`${table}/${code}`);
      if (row) return row;
    }
    return undefined;
  }
}
