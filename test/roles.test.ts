// `tidewater start --role ...` as the operator runs it: the speed and serve roles in a child process,
// killed with SIGKILL while traffic flows and started again. The API must then answer the ground
// truth exactly: nothing lost, nothing counted twice, no state kept in the serving process.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafka } from '../kafka/index.ts';
import { exited, startTidewater } from './support/child.ts';
import { imperfectTraffic, isolation } from './support/isolation.ts';
import { answerOrderCells, produceGenerated, truthOrderCells, waitForCatchUp } from './support/speed.ts';

const isolated = isolation('roles');
const children: ReturnType<typeof startTidewater>[] = [];
afterAll(async () => {
  for (const child of children) {
    child.kill('SIGKILL');
    await exited(child);
  }
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: no answer within ${timeoutMs} ms`);
    await sleep(200);
  }
}

describe('speed and serve roles killed mid-stream', () => {
  it('restart and answer the ground truth over HTTP', async () => {
    const { cfg, env: base, groupId } = await isolated('roles');
    const port = 18_000 + Math.floor(Math.random() * 1000);
    const env = {
      ...base,
      TIDEWATER_API_PORT: String(port),
      TIDEWATER_AUTH: '0',
      TIDEWATER_SPEED_GROUP: `${groupId}-speed`,
      TIDEWATER_QUEUE_PREFIX: groupId,
    };
    const url = `http://127.0.0.1:${port}`;
    const start = () => {
      const child = startTidewater(['start', '--role', 'speed', '--role', 'serve'], env);
      children.push(child);
      return child;
    };
    const healthy = () => until('API', async () => ((await fetch(`${url}/healthz`)).ok ? true : undefined));

    let child = start();
    await healthy();
    const kafka = createKafka(cfg, 'roles');
    const produced = produceGenerated(
      kafka,
      cfg.eventsTopic,
      imperfectTraffic(33, '2025-11-01T10:00:00Z', 30_000),
    );
    for (let kill = 0; kill < 2; kill++) {
      await sleep(1_000 + Math.random() * 2_000);
      child.kill('SIGKILL');
      await exited(child);
      child = start();
      await healthy();
    }
    const truth = await produced;
    await waitForCatchUp(kafka, `${groupId}-speed`, cfg.eventsTopic, 180_000);

    const answer = await until('metrics', async () => {
      const response = await fetch(
        `${url}/v1/metrics/orders?from=2025-11-01T00:00:00Z&to=2025-11-02T00:00:00Z&groupBy=region`,
      );
      return response.ok
        ? ((await response.json()) as { rows: Record<string, string | number>[] })
        : undefined;
    });
    const served = answerOrderCells(answer.rows);
    expect(served.length).toBeGreaterThan(50);
    expect(served).toEqual(truthOrderCells(truth, '2025-11-01T00:00:00Z', '2025-11-02T00:00:00Z'));
  }, 300_000);
});
