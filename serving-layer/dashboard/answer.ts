// The shape of a GET /v1/metrics/:name answer (and of each live `snapshot` / `delta` event).
export type Cell = string | number | boolean | null;
export type Row = Record<string, Cell>;

export interface Meta {
  boundary: { watermark: string; since: string; batchVersion: number | null } | null;
  served: { layer: string; from: string; to: string }[];
  lakeVersion: number | null;
  speed: { newestEventTime: string | null; ageSeconds: number | null };
  quarantined: { total: number; byRule: Record<string, number> } | null;
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
