// The load generator of bench:bi, in its own process as BI tools are: `concurrency` keep-alive
// connections to the ClickHouse interface, each sending the next of a dashboard's statements as
// soon as the previous answer is read whole, for `seconds`.
// Prints one JSON line: {"latencies_ms":[...],"requests":N,"errors":N,"firstError":"...","seconds":S}.
// Usage: node --import tsx bench/bi-load.ts <url> <concurrency> <seconds> <statements as a JSON array>
import { Agent, request } from 'node:http';

const [url = '', concurrencyArg = '20', secondsArg = '60', statementsArg = '[]'] = process.argv.slice(2);
const concurrency = Number(concurrencyArg);
const seconds = Number(secondsArg);
const statements = JSON.parse(statementsArg) as string[];
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const latencies: number[] = [];
let errors = 0;
let firstError: string | undefined;

function once(statement: string): Promise<void> {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = request(url, { agent, method: 'POST', headers: { 'content-type': 'text/plain' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        if (res.statusCode === 200) latencies.push(performance.now() - started);
        else {
          errors++;
          firstError ??= Buffer.concat(chunks).toString().slice(0, 300);
        }
        resolve();
      });
    });
    req.on('error', (error) => {
      errors++;
      firstError ??= error.message;
      resolve();
    });
    req.end(statement);
  });
}

const deadline = performance.now() + seconds * 1000;
const started = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async (_, connection) => {
    for (let i = connection; performance.now() < deadline; i++)
      await once(statements[i % statements.length] ?? '');
  }),
);
const elapsed = (performance.now() - started) / 1000;
agent.destroy();
process.stdout.write(
  `${JSON.stringify({ latencies_ms: latencies, requests: latencies.length, errors, firstError, seconds: elapsed })}\n`,
);
