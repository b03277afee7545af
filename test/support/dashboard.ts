// A metrics answer as the dashboard receives it, for the page's unit tests: one metric by region,
// with the meta of a speed-only platform that has served nothing yet.
import type { Answer, Row } from '../../serving-layer/dashboard/answer.ts';

export function ordersAnswer(from: string, to: string, measures: string[], rows: Row[]): Answer {
  return {
    metric: 'orders',
    grain: 'minute',
    from,
    to,
    dimensions: ['region'],
    measures,
    rows,
    meta: {
      boundary: null,
      served: [],
      lakeVersion: null,
      speed: { newestEventTime: null, ageSeconds: null },
      quarantined: null,
      truncated: false,
    },
  };
}
