import { loadConfig } from '../../config/index.ts';
import { servicesDown, servicesUp } from '../../scripts/services/index.ts';

/**
 * Tests use the real Kafka and Redis. Start whichever does not answer yet, so `npm test` needs no
 * process started by hand, and stop afterwards only what this run started.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const cfg = loadConfig();
  const states = await servicesUp(cfg, (line) => console.log(`[services] ${line}`));
  const startedHere = states.some((s) => s.state === 'started');
  return async () => {
    if (startedHere) await servicesDown(cfg);
  };
}
