// The load generator of bench:serve, in its own process: `concurrency` keep-alive connections each
// sending the next request as soon as the previous answer is read whole, for `seconds`.
// Prints one JSON line: {"latencies_ms":[...],"requests":N,"errors":N,"bytes":N,"seconds":S}.
// Usage: node --import tsx bench/serve-load.ts <url> <concurrency> <seconds>
import { Agent, request } from 'node:http';

const [url = '', concurrencyArg = '100', secondsArg = '10'] = process.argv.slice(2);
const concurrency = Number(concurrencyArg);
const seconds = Number(secondsArg);
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const latencies: number[] = [];
let errors = 0;
let bytes = 0;

function once(): Promise<void> {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = request(url, { agent }, (res) => {
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      res.on('end', () => {
        if (res.statusCode === 200) latencies.push(performance.now() - started);
        else errors++;
        resolve();
      });
    });
    req.on('error', () => {
      errors++;
      resolve();
    });
    req.end();
  });
}

const deadline = performance.now() + seconds * 1000;
const started = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) await once();
  }),
);
const elapsed = (performance.now() - started) / 1000;
agent.destroy();
process.stdout.write(
  `${JSON.stringify({ latencies_ms: latencies, requests: latencies.length, errors, bytes, seconds: elapsed })}\n`,
);
