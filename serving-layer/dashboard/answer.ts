// The shape of a GET /v1/metrics/:name answer (and of each live `snapshot` / `delta` event).
export type Cell = string | number | boolean | null;
export type Row = Record<string, Cell>;

export interface Quarantined {
  total: number;
  byRule: Record<string, number>;
}

export interface Meta {
  boundary: {
    watermark: string;
    since: string;
    batchVersion: number | null;
    lakeVersion: number | null;
  } | null;
  served: { layer: string; from: string; to: string }[];
  /** The lake's newest version. */
  lakeVersion: number | null;
  speed: { newestEventTime: string | null; ageSeconds: number | null };
  /** Records quarantined in the answer's range: a delta's range is only the minutes it carries. */
  quarantined: Quarantined | null;
  truncated: boolean;
}

export interface Answer {
  metric: string;
  grain: string;
  from: string;
  to: string;
  dimensions: string[];
  measures: string[];
  rows: Row[];
  meta: Meta;
}
