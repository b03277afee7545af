// A serving process started before the speed layer has created its tables (separate roles on a
// fresh engine): the SQL endpoint answers 503 with the reason meanwhile, and opens by itself once
// the tables exist, without a restart.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createClickHouse } from '../clickhouse/index.ts';
import { buildServer } from '../serving-layer/index.ts';
import { applySpeedLayerDdl } from '../speed-layer/index.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'tidewater-sql-startup-'));
const client = createClickHouse({ dataDir });

afterAll(async () => {
  await client.close();
  rmSync(dataDir, { recursive: true, force: true });
});

it('opens the SQL endpoint once the speed view exists, answering 503 with the reason until then', async () => {
  const app = await buildServer({ clickhouse: client, dataDir, logger: false });
  try {
    const statement = () =>
      app.inject({ method: 'POST', url: '/v1/sql', payload: { sql: 'SELECT count() AS n FROM orders' } });
    const before = await statement();
    expect(before.statusCode).toBe(503);
    expect(before.json()).toMatchObject({
      error: {
        code: 'sql_unavailable',
        message: expect.stringMatching(/the SQL endpoint is off: .*orders_v/),
      },
    });

    await applySpeedLayerDdl(client);
    const deadline = Date.now() + 30_000;
    let after = await statement();
    while (after.statusCode === 503 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      after = await statement();
    }
    expect(after.statusCode).toBe(200);
    const answer = after.json() as { rows: number; data: { n: number | string }[] };
    expect(answer.rows).toBe(1);
    expect(Number(answer.data[0]?.n)).toBe(0);
  } finally {
    await app.close();
  }
}, 60_000);
