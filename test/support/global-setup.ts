import { loadConfig } from '../../config/index.ts';
import { servicesDown, servicesUp } from '../../scripts/services/index.ts';

/**
 * Tests use the real Kafka and Redis. Start whichever does not answer yet, so `npm test` needs no
 * process started by hand, and stop afterwards only what this run started.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const cfg = loadConfig();
  const states = await servicesUp(cfg, (line) => console.log(`[services] ${line}`));
  // Only those: a run that restarted the CDC worker (a test kills it) must not stop the broker
  // the developer started.
  const startedHere = states.filter((s) => s.state === 'started').map((s) => s.name);
  return async () => {
    if (startedHere.length > 0) await servicesDown(cfg, startedHere);
  };
}
