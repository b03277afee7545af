// The load generator of bench/ingest.ts, in a process of its own (fork with IPC): posts NDJSON
// batches of generated events over keep-alive HTTP connections, several requests in flight.
import { Agent, request } from 'node:http';
import { generate } from '../generator/index.ts';

type Command =
  | { cmd: 'prepare'; events: number; batch: number; seed: number; nonOrders?: boolean }
  | { cmd: 'go'; url: string; key: string; concurrency: number; ratePerSecond?: number }
  | { cmd: 'stop' };

const agent = new Agent({ keepAlive: true, maxSockets: 64 });
let bodies: Buffer[] = [];
let stopped = false;

function post(url: string, key: string, body: Buffer): Promise<{ status: number; accepted: number }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/v1/events`,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/x-ndjson',
          'content-length': body.length,
          authorization: `Bearer ${key}`,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({
            status: res.statusCode ?? 0,
            accepted: res.statusCode === 202 ? JSON.parse(text).accepted : 0,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function prepare(events: number, batch: number, seed: number, nonOrders: boolean): void {
  const lines: Buffer[] = [];
  bodies = [];
  for (const r of generate({ seed, count: events, start: Date.now(), rate: 1_000_000 })) {
    if (r.kind !== 'good' || (nonOrders && r.event?.eventType === 'order.created')) continue;
    lines.push(r.value, Buffer.from('\n'));
    if (lines.length === batch * 2) bodies.push(Buffer.concat(lines.splice(0)));
  }
  if (lines.length > 0) bodies.push(Buffer.concat(lines));
}

async function go(url: string, key: string, concurrency: number, ratePerSecond?: number) {
  let next = 0;
  let accepted = 0;
  let failed = 0;
  const started = performance.now();
  const worker = async () => {
    while (!stopped && next < bodies.length) {
      const body = bodies[next++] as Buffer;
      const result = await post(url, key, body);
      if (result.status === 202) accepted += result.accepted;
      else failed++;
      if (ratePerSecond !== undefined) {
        // Paced: wait until the accepted count is due at this rate.
        const due = started + (accepted / ratePerSecond) * 1000;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { accepted, failed, requests: next, elapsedMs: performance.now() - started };
}

process.on('message', (message: Command) => {
  void (async () => {
    if (message.cmd === 'prepare') {
      prepare(message.events, message.batch, message.seed, message.nonOrders ?? false);
      process.send?.({ ready: bodies.length });
    } else if (message.cmd === 'go') {
      stopped = false;
      process.send?.({
        done: await go(message.url, message.key, message.concurrency, message.ratePerSecond),
      });
    } else {
      stopped = true;
    }
  })().catch((error: unknown) => {
    process.send?.({ error: String((error as Error).stack ?? error) });
  });
});
