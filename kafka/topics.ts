import type { Admin, ITopicConfig, Kafka } from 'kafkajs';
import type { Config } from '../config/index.ts';

export type TopicConfig = Pick<Config, 'eventsTopic' | 'quarantineTopic' | 'eventsPartitions'>;

/** The platform's topics. Quarantine keeps its records for 30 days: they wait for a human. */
export function platformTopics(cfg: TopicConfig): ITopicConfig[] {
  return [
    { topic: cfg.eventsTopic, numPartitions: cfg.eventsPartitions, replicationFactor: -1 },
    {
      topic: cfg.quarantineTopic,
      numPartitions: Math.min(cfg.eventsPartitions, 3),
      replicationFactor: -1,
      configEntries: [{ name: 'retention.ms', value: String(30 * 24 * 3600 * 1000) }],
    },
  ];
}

/** Creates whichever of `topics` is absent and waits until each has leaders; returns the created names. */
export async function ensureTopics(admin: Admin, topics: ITopicConfig[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t.topic));
  if (missing.length === 0) return [];
  await admin.createTopics({ topics: missing, waitForLeaders: true });
  return missing.map((t) => t.topic);
}

/** The platform's topics, created where absent, through a short-lived admin client. */
export async function ensurePlatformTopics(kafka: Kafka, cfg: TopicConfig): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await ensureTopics(admin, platformTopics(cfg));
  } finally {
    await admin.disconnect();
  }
}

/**
 * What to tell the operator when the events topic exists with another partition count than
 * `eventsPartitions` (TIDEWATER_EVENTS_PARTITIONS), which sizes the topic only when the platform
 * creates it and sets how many partitions the speed layer gates at once. The platform never adds
 * partitions itself: a user's key would then hash to another partition, where the dedup window
 * (kept per partition, quality/dedup.ts) would not see their earlier events.
 */
export async function eventsPartitionsWarning(kafka: Kafka, cfg: TopicConfig): Promise<string | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [cfg.eventsTopic] });
    const partitions = topics[0]?.partitions.length ?? 0;
    if (partitions === 0 || partitions === cfg.eventsPartitions) return undefined;
    return (
      `warning: the events topic "${cfg.eventsTopic}" has ${partitions} partitions and ` +
      `TIDEWATER_EVENTS_PARTITIONS is ${cfg.eventsPartitions}: the setting sizes the topic only when the ` +
      `platform creates it, so set it to ${partitions}. Adding partitions to a topic in use would move ` +
      "users to other partitions, out of reach of their duplicates' deduplication."
    );
  } finally {
    await admin.disconnect();
  }
}
