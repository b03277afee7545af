// The platform as one process or as any subset of its roles. Each role is a component started here
// and stopped in reverse order, so SIGINT/SIGTERM finish in-flight work: consumers complete and
// commit the range in hand, workers finish their jobs, the API drains its requests.
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { Registry } from 'prom-client';
import { cdcTopic, startCdcBridge } from '../cdc/index.ts';
import { createClickHouse } from '../clickhouse/index.ts';
import type { Config } from '../config/index.ts';
import { type LiveDimensions, openPlatformDimensions } from '../contracts/index.ts';
import { generate, paced, produceToKafka } from '../generator/index.ts';
import { createKafka } from '../kafka/index.ts';
import { lakeTableDir, QuarantineLakeWriter, quarantineTableDir, startLakeWriter } from '../lake/index.ts';
import { createOrchestrator, startScheduler, startWorkers } from '../orchestration/index.ts';
import { registerVerdictBoardMetrics, VerdictBoard, type VerdictBoardStats } from '../quality/index.ts';
import { startServing } from '../serving-layer/index.ts';
import { connectCommitPublisher, retiredViewsNotice, startSpeedLayer } from '../speed-layer/index.ts';
import type { Role } from './roles.ts';

/** Shares of imperfect demo traffic: enough to keep the quality gate and late handling busy. */
const DEMO_FAULTS = { lateFraction: 0.01, duplicateFraction: 0.005, badFraction: 0.005 };

export interface Platform {
  roles: readonly Role[];
  /** Records each consumer of this process has taken through the gate into its sink. */
  delivered(): { speed?: number; lake?: number };
  /**
   * What the lake writer took from the speed layer's verdicts, with both layers here, and the bytes
   * of them held on disk now.
   */
  verdicts(): (VerdictBoardStats & { spilledBytes: number }) | undefined;
  /** Where the API listens, when this process serves it. */
  url?: string;
  /** One line on what each running role has done so far. */
  status(): string;
  stop(): Promise<void>;
}

export interface PlatformOptions {
  roles: readonly Role[];
  /** Feed generated retail traffic into the events topic (the all-in-one demo). */
  demo: boolean;
  log?: (line: string) => void;
}

export async function startPlatform(cfg: Config, options: PlatformOptions): Promise<Platform> {
  const log = options.log ?? console.log;
  const roles = new Set(options.roles);
  const stops: (() => Promise<unknown>)[] = [];
  const status: (() => string)[] = [];
  const delivered: { speed?: () => number; lake?: () => number } = {};
  const registry = new Registry();
  let clickhouse: ClickHouseClient | undefined;
  const ch = () => {
    clickhouse ??= createClickHouse({ url: cfg.clickhouseUrl, dataDir: cfg.dataDir });
    return clickhouse;
  };
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop();
    await clickhouse?.close();
  };
  let url: string | undefined;
  // One set of dimensions, refreshed in one place, for every gate of the process (speed, lake, HTTP
  // ingest): after a change of the files they all judge an event alike.
  let shared: LiveDimensions | undefined;
  const dimensions = async () => {
    if (!shared) {
      shared = await openPlatformDimensions(cfg.dataDir, cfg.dimensionsRefreshSeconds * 1000, (error) =>
        console.error(`dimensions in ${cfg.dataDir} not refreshed, the previous ones stay: ${error.message}`),
      );
      const opened = shared;
      stops.push(async () => opened.stop());
    }
    return shared;
  };

  // One verdict per event: with both layers here and the speed layer gating on the event loop, the
  // lake writer takes the speed gate's verdicts rather than judging each event again.
  const speedGateThreads = cfg.speedGateThreads ?? (roles.size > 1 ? 0 : undefined);
  const verdicts =
    roles.has('speed') && roles.has('lake') && speedGateThreads === 0
      ? new VerdictBoard({
          capacity: cfg.verdictMemoryRecords,
          spill: { dir: join(cfg.dataDir, 'verdicts'), maxBytes: cfg.verdictSpillMb * 1024 * 1024 },
        })
      : undefined;
  if (verdicts) {
    stops.push(async () => verdicts.close());
    registerVerdictBoardMetrics(registry, verdicts);
  }

  try {
    if (roles.has('speed')) {
      // Each insert publishes a commit notice on Redis: live push and the query cache follow them.
      const commits = connectCommitPublisher(cfg);
      const speed = await startSpeedLayer(cfg, {
        clickhouse: ch(),
        registry,
        commits: commits.publisher,
        dimensions: await dimensions(),
        // Sharing the process, the speed layer gates on its event loop unless told otherwise (config).
        gateThreads: speedGateThreads,
        verdicts,
      });
      stops.push(async () => {
        await speed.stop();
        commits.close();
      });
      const lag = () => [...speed.consumer.lag.values()].reduce((a, b) => a + b, 0);
      status.push(() => `speed: ${speed.consumer.delivered} events, lag ${lag()}`);
      delivered.speed = () => speed.consumer.delivered;
      log(`speed layer: "${cfg.eventsTopic}" -> ClickHouse ${cfg.clickhouseUrl ?? '(embedded)'}`);
      if (speed.retiredViews.length > 0) log(retiredViewsNotice(speed.retiredViews));
    }
    if (roles.has('lake')) {
      const lake = await startLakeWriter(cfg, { dimensions: await dimensions(), verdicts });
      stops.push(() => lake.stop());
      const quarantine = new QuarantineLakeWriter({
        kafka: createKafka(cfg, 'quarantine-lake'),
        topic: cfg.quarantineTopic,
        root: quarantineTableDir(cfg.dataDir),
        groupId: cfg.quarantineGroup,
        commitPolicy: {
          maxBytes: cfg.lakeCommitMb * 1024 * 1024,
          maxAgeMs: cfg.quarantineCommitSeconds * 1000,
        },
      });
      await quarantine.start();
      stops.push(() => quarantine.stop());
      const lag = () => [...lake.consumer.lag.values()].reduce((a, b) => a + b, 0);
      status.push(() => `lake: version ${lake.table.current.version}, lag ${lag()}`);
      if (verdicts)
        status.push(
          () =>
            `verdicts: ${verdicts.stats.taken} taken, ${verdicts.stats.missed} gated again, ${(verdicts.spilledBytes / 1024 / 1024).toFixed(0)} MB spilled`,
        );
      delivered.lake = () => lake.consumer.delivered;
      log(`lake writer: "${cfg.eventsTopic}" -> ${lakeTableDir(cfg.dataDir)}`);
      log(`quarantine: "${cfg.quarantineTopic}" -> ${quarantineTableDir(cfg.dataDir)}`);
    }
    if (roles.has('cdc')) {
      const bridge = await startCdcBridge(cfg);
      stops.push(() => bridge.stop());
      status.push(() => `cdc: ${bridge.counts.read} changes read, ${bridge.counts.produced} events produced`);
      log(`cdc bridge: "${cdcTopic(cfg)}" -> "${cfg.eventsTopic}" as inventory.update events`);
    }
    if (roles.has('worker')) {
      const workers = await startWorkers(cfg, { clickhouse: ch() });
      stops.push(() => workers.close());
      log(`workers: every queue on Redis ${cfg.redisUrl} (prefix ${cfg.queuePrefix})`);
    }
    if (roles.has('scheduler')) {
      const scheduler = startScheduler(cfg);
      stops.push(() => scheduler.stop());
      log(
        'scheduler: hourly recompute, correction scan every minute, optimize every 15 minutes, nightly vacuum, daily validation report',
      );
    }
    if (roles.has('serve')) {
      const orchestrator = createOrchestrator(cfg);
      const api = await startServing(cfg, {
        clickhouse: ch(),
        registry,
        orchestrator,
        dimensions: await dimensions(),
      });
      url = api.url;
      stops.push(async () => {
        await api.close();
        await orchestrator.close();
      });
      log(`API: ${url}  (dashboard ${url}/, docs ${url}/docs, Prometheus ${url}/metrics)`);
      if (api.clickhouseUrl)
        log(
          `ClickHouse interface for BI tools: ${api.clickhouseUrl}  (database ${cfg.sqlDatabase}, password: an API key)`,
        );
      if (!cfg.auth) log('API keys are off (TIDEWATER_AUTH=0): every route is open, on 127.0.0.1 only');
      else if (api.bootstrapKey)
        // As a line to paste: the README's and docs/quickstart.md's commands read the key from it.
        log(
          `admin API key, shown this once (\`npx tidewater keys create\` makes more); in another terminal:\n` +
            `  export TIDEWATER_KEY=${api.bootstrapKey}`,
        );
    }
    if (options.demo) {
      const abort = new AbortController();
      const traffic = generate({
        seed: cfg.seed,
        start: Date.now(),
        rate: cfg.demoRate,
        dimensions: (await dimensions()).current,
        ...DEMO_FAULTS,
      });
      const running = produceToKafka(paced(traffic, cfg.demoRate, abort.signal), cfg, cfg.demoRate);
      stops.push(async () => {
        abort.abort();
        await running;
      });
      log(`demo traffic: ${cfg.demoRate} events/s into "${cfg.eventsTopic}" (TIDEWATER_DEMO=0 turns it off)`);
    }
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error;
  }
  return {
    roles: [...roles],
    url,
    status: () => status.map((s) => s()).join('; '),
    delivered: () => ({ speed: delivered.speed?.(), lake: delivered.lake?.() }),
    verdicts: () => verdicts && { ...verdicts.stats, spilledBytes: verdicts.spilledBytes },
    stop: stopAll,
  };
}
