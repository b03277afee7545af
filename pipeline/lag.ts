// Consumer lag as the broker sees it: high watermark minus the group's committed offset, per
// partition. Independent of any consumer's memory, so a test or a dashboard reads the same figure.
import type { Admin } from '../kafka/index.ts';

export interface PartitionPosition {
  partition: number;
  /** Log start (records before it were deleted by retention). */
  low: number;
  high: number;
  /** The group's committed offset, or `low` when it never committed. */
  committed: number;
  /** Metadata of the commit (null when none). */
  metadata: string | null;
}

export async function fetchPositions(
  admin: Admin,
  groupId: string,
  topic: string,
): Promise<PartitionPosition[]> {
  const [groups, topicOffsets] = await Promise.all([
    admin.fetchOffsets({ groupId, topics: [topic] }),
    admin.fetchTopicOffsets(topic),
  ]);
  const commits = new Map(groups.flatMap((g) => g.partitions).map((p) => [p.partition, p]));
  return topicOffsets.map(({ partition, low, high }) => {
    const commit = commits.get(partition);
    const offset = Number(commit?.offset ?? -1);
    return {
      partition,
      low: Number(low),
      high: Number(high),
      committed: offset < 0 ? Number(low) : offset,
      metadata: commit?.metadata ?? null,
    };
  });
}

export const lagOf = (p: PartitionPosition): number => Math.max(0, p.high - p.committed);
