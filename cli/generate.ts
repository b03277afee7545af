import { once } from 'node:events';
import fs from 'node:fs';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { config } from '../config/index.ts';
import type { GeneratedRecord } from '../generator/index.ts';
import { progress } from './progress.ts';

const number = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got "${value}"`);
  return n;
};

interface GenerateFlags {
  seed?: number;
  count?: number;
  rate?: number;
  start?: string;
  to: string;
  burst?: boolean | number;
  lateFraction?: number;
  maxLatenessMinutes?: number;
  duplicateFraction?: number;
  badFraction?: number;
  truth?: string;
}

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('synthetic retail traffic, deterministic from --seed, to Kafka or NDJSON')
    .option('--seed <n>', 'seed of the traffic (default TIDEWATER_SEED)', number('--seed'))
    .option('--count <n>', 'records to emit (default: until interrupted)', number('--count'))
    .option(
      '--rate <n>',
      'events per second, paced in real time (default: as fast as possible)',
      number('--rate'),
    )
    .option(
      '--start <iso>',
      'event time of the first record (default: now); fix it for byte-identical output',
    )
    .addOption(new Option('--to <sink>', 'kafka, - (stdout) or a file path for NDJSON').default('kafka'))
    .option('--burst [factor]', 'flash-sale mode: multiply the order funnel', (v) => number('--burst')(v))
    .option(
      '--late-fraction <f>',
      'share of events delivered late and out of order',
      number('--late-fraction'),
    )
    .option('--max-lateness-minutes <m>', 'how late a late event can be', number('--max-lateness-minutes'))
    .option(
      '--duplicate-fraction <f>',
      'share of events sent twice (same eventId)',
      number('--duplicate-fraction'),
    )
    .option('--bad-fraction <f>', 'share of bad records of every kind', number('--bad-fraction'))
    .option('--truth <file>', 'write the ground truth of what was sent (JSON) to this file')
    .action(async (flags: GenerateFlags) => {
      const cfg = config();
      const [
        { loadPlatformDimensions },
        { GenerateOptions, GroundTruth, generate, paced, produceToKafka, writeNdjson },
      ] = await Promise.all([import('../contracts/index.ts'), import('../generator/index.ts')]);
      const parsed = GenerateOptions.safeParse({
        seed: flags.seed ?? cfg.seed,
        count: flags.count,
        rate: flags.rate,
        start: flags.start ?? Date.now(),
        burst: flags.burst,
        lateFraction: flags.lateFraction,
        maxLatenessMinutes: flags.maxLatenessMinutes,
        duplicateFraction: flags.duplicateFraction,
        badFraction: flags.badFraction,
        dimensions: await loadPlatformDimensions(cfg.dataDir),
      });
      if (!parsed.success) {
        const flag = (path: PropertyKey[]) =>
          `--${String(path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
        throw new InvalidArgumentError(
          parsed.error.issues.map((i) => `${flag(i.path)}: ${i.message}`).join('; '),
        );
      }

      const abort = new AbortController();
      const stop = () => abort.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);

      const truth = new GroundTruth();
      const shown = progress('generated', flags.to === '-' ? process.stderr : process.stdout);
      async function* records(): AsyncGenerator<GeneratedRecord[]> {
        for await (const chunk of paced(generate(parsed.data), flags.rate, abort.signal)) {
          for (const r of chunk) truth.add(r);
          shown.tick(chunk.length);
          yield chunk;
        }
      }

      if (flags.to === 'kafka') {
        await produceToKafka(records(), cfg, flags.rate);
      } else {
        const stream = flags.to === '-' ? process.stdout : fs.createWriteStream(flags.to);
        await writeNdjson(records(), stream);
        if (stream !== process.stdout) {
          stream.end();
          await once(stream, 'finish');
        }
      }
      shown.done();
      if (flags.truth) fs.writeFileSync(flags.truth, `${JSON.stringify(truth.toJSON(), null, 2)}\n`);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    });
}
