import type { Config } from '../../config/index.ts';
import { cdcDown, cdcStatus, cdcUp } from './cdc.ts';
import { kafkaDown, kafkaStatus, kafkaUp } from './kafka.ts';
import { redisDown, redisStatus, redisUp } from './redis.ts';
import type { ServiceState } from './types.ts';

export { cdcDown, cdcUp, cdcWorkerPid, connectorRuns } from './cdc.ts';
export { brokerAnswers, kafkaDown, kafkaUp } from './kafka.ts';
export { redisAnswers, redisDown, redisUp } from './redis.ts';
export type { ServiceState } from './types.ts';

type Log = (line: string) => void;

/**
 * Starts whatever of Kafka and Redis does not answer yet, then change data capture when a
 * PostgreSQL answers at TIDEWATER_CDC_DATABASE_URL. Idempotent.
 */
export async function servicesUp(cfg: Config, log: Log): Promise<ServiceState[]> {
  return [await kafkaUp(cfg, log), await redisUp(cfg, log), await cdcUp(cfg, log)];
}

const DOWN: Record<string, (cfg: Config) => Promise<ServiceState>> = {
  kafka: kafkaDown,
  redis: redisDown,
  cdc: cdcDown,
};

/**
 * Stops the processes `servicesUp` started (none it found running already), or of those only the
 * services named.
 */
export async function servicesDown(cfg: Config, only?: readonly string[]): Promise<ServiceState[]> {
  return Promise.all(
    Object.entries(DOWN)
      .filter(([name]) => only === undefined || only.includes(name))
      .map(([, down]) => down(cfg)),
  );
}

export async function servicesStatus(cfg: Config): Promise<ServiceState[]> {
  return Promise.all([kafkaStatus(cfg), redisStatus(cfg), cdcStatus(cfg)]);
}

export function formatStates(states: ServiceState[]): string {
  return states.map((s) => `${s.name.padEnd(6)} ${s.state.padEnd(24)} ${s.detail}`.trimEnd()).join('\n');
}
