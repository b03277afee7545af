import type { Consumer } from 'kafkajs';

/** Pause before running a consumer again that kafkajs would not restart. */
const RERUN_DELAY_MS = 1_000;

/**
 * Runs a consumer again after a crash kafkajs does not restart it from. kafkajs restarts only after
 * a retriable error, and a broker restart also ends in non-retriable ones
 * (KafkaJSGroupCoordinatorNotFound while the coordinator loads): without this the consumer would
 * stop for good while its process runs on. It has left the group by then; running it again rejoins,
 * and consumption resumes from the committed offsets. `active` false (stopping) leaves it stopped.
 * Returns a function that cancels a pending rerun.
 */
export function rerunAfterCrash(
  consumer: Consumer,
  run: () => Promise<void>,
  active: () => boolean,
): () => void {
  let timer: NodeJS.Timeout | undefined;
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (payload.restart || !active()) return;
    timer = setTimeout(() => {
      if (active()) void run();
    }, RERUN_DELAY_MS);
  });
  return () => clearTimeout(timer);
}
