// End to end through the running platform: generated traffic with ground truth (late, duplicate and
// bad records included) into Kafka; the speed layer, lake writer, quarantine writer, workers and API
// of one process; a backfill requested over the API. The merged answers must equal the ground truth
// across the boundary, and the quarantine must hold exactly the injected bad records.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../cli/platform.ts';
import type { GroundTruthReport } from '../generator/index.ts';
import { createKafka } from '../kafka/index.ts';
import { openQuarantineStore, quarantineTableDir } from '../lake/index.ts';
import { type Isolated, imperfectTraffic, isolation } from './support/isolation.ts';
import { answerOrderCells, produceGenerated, truthOrderCells, waitForCatchUp } from './support/speed.ts';

const isolated = isolation('e2e');
const DAY1 = '2025-07-01';
const DAY2 = '2025-07-02';
const FROM = `${DAY1}T23:00:00Z`;
const TO = `${DAY2}T01:00:00Z`;
let env: Isolated;
let platform: Platform;
let truth: GroundTruthReport;

/** The parts of the API's answers this test reads: a metrics answer, a job, or a request's job. */
interface Body {
  id: string;
  status: string;
  job: Body;
  rows: Record<string, string | number>[];
  meta: { served: { layer: string }[]; boundary: { watermark: string } };
  /** POST /v1/sql answers. */
  data: Record<string, string | number>[];
}

async function api(method: string, path: string, body?: unknown) {
  const response = await fetch(`${platform.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Body };
}

const truthCells = () => truthOrderCells(truth, FROM, TO);

beforeAll(async () => {
  env = await isolated('platform');
  const cfg = {
    ...env.cfg,
    apiPort: 0,
    auth: false,
    queuePrefix: `e2e-${env.groupId}`,
    speedGroup: `${env.groupId}-speed`,
    lakeGroup: `${env.groupId}-lake`,
    // The test waits for the lake to catch up: its last ranges need not wait a minute for their commit.
    lakeCommitSeconds: 1,
    // Every range's verdicts go to the spill as they are posted (a range is more than one record), so
    // the lake writer takes them from disk, as one far behind under load does.
    verdictMemoryRecords: 1,
  };
  platform = await startPlatform(cfg, {
    roles: ['speed', 'lake', 'serve', 'worker'],
    demo: false,
    log: () => {},
  });
  const kafka = createKafka(cfg, 'e2e');
  truth = await produceGenerated(kafka, cfg.eventsTopic, imperfectTraffic(91, `${DAY1}T23:59:00Z`, 20_000));
  await waitForCatchUp(kafka, cfg.speedGroup, cfg.eventsTopic, 120_000);
  await waitForCatchUp(kafka, cfg.lakeGroup, cfg.eventsTopic, 120_000);
}, 240_000);

afterAll(async () => {
  await platform?.stop();
});

describe('the running platform', () => {
  it('answers from the speed view before any batch run, equal to the ground truth', async () => {
    const { status, body } = await api('GET', `/v1/metrics/orders?from=${FROM}&to=${TO}&groupBy=region`);
    expect(status).toBe(200);
    expect(body.meta.served.map((s) => s.layer)).toEqual(['speed']);
    expect(answerOrderCells(body.rows)).toEqual(truthCells());
  });

  it('backfills day 1 over the API; the merged answer then comes from batch and speed, still exact', async () => {
    const requested = await api('POST', '/v1/backfills', { from: DAY1, to: DAY2 });
    expect(requested.status).toBe(201);
    const again = await api('POST', '/v1/backfills', { from: DAY1, to: DAY2 });
    expect(again.body.job.id).toBe(requested.body.job.id);
    let job = requested.body.job;
    for (let i = 0; i < 240 && !['completed', 'failed', 'cancelled'].includes(job.status); i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      job = (await api('GET', `/v1/backfills/${job.id}`)).body;
    }
    expect(job.status, JSON.stringify(job)).toBe('completed');

    const { body } = await api('GET', `/v1/metrics/orders?from=${FROM}&to=${TO}&groupBy=region`);
    expect(body.meta.boundary.watermark).toBe(`${DAY2}T00:00:00.000Z`);
    expect(body.meta.served.map((s) => s.layer)).toEqual(['batch', 'speed']);
    expect(answerOrderCells(body.rows)).toEqual(truthCells());
  });

  it('quarantines exactly the injected bad records', async () => {
    const store = await openQuarantineStore(quarantineTableDir(env.cfg.dataDir));
    try {
      let total = -1;
      for (let i = 0; i < 120 && total !== truth.totals.bad; i++) {
        total = (await store.summary()).total;
        if (total !== truth.totals.bad) await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(truth.totals.bad).toBeGreaterThan(100);
      expect(total).toBe(truth.totals.bad);
      const ids = (await store.list()).map((r) => r.id);
      expect(new Set(ids).size).toBe(ids.length);
      // The same table as engineers read it over SQL (auth is off here: every route is an admin's).
      const sql = await api('POST', '/v1/sql', {
        sql: `SELECT count() AS n, uniqExact(source_topic, source_partition, source_offset) AS records,
          countIf(length(rule_ids) = 0) AS without_rule FROM tidewater_quality.quarantine`,
      });
      expect(sql.status, JSON.stringify(sql.body)).toBe(200);
      expect(sql.body.data[0]).toEqual({
        n: String(truth.totals.bad),
        records: String(truth.totals.bad),
        without_rule: '0',
      });
    } finally {
      store.close();
    }
  });

  it("judges each event once: the lake writer took the speed layer's verdicts, from the spill", () => {
    // Both layers read the topic together here; the lake waits for the speed gate's verdicts rather
    // than gating a range itself, so all but ranges it met before the speed layer's can come from there.
    // With one record of memory, every verdict it took was read back from disk, and the answers and
    // the quarantine above equal the ground truth.
    const verdicts = platform.verdicts();
    const lake = platform.delivered().lake ?? 0;
    expect(lake).toBeGreaterThanOrEqual(20_000);
    expect(verdicts?.taken).toBeGreaterThan(lake / 2);
    expect(verdicts?.spilled).toBeGreaterThanOrEqual(verdicts?.posted ?? Number.POSITIVE_INFINITY);
  });

  it('says how many bytes of verdicts it holds on disk', async () => {
    const response = await fetch(`${platform.url}/metrics`);
    expect(response.status).toBe(200);
    // Some may be left: ranges the lake writer met before the speed layer's post and gated itself.
    // The stream is over, so the board holds still while both are read.
    const gauge = /^tidewater_verdict_board_spilled_bytes (\d+)$/m.exec(await response.text());
    expect(gauge).not.toBeNull();
    expect(Number(gauge?.[1])).toBe(platform.verdicts()?.spilledBytes);
  });
});
