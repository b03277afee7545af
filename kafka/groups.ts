// Consumer groups are shared by name across everything on one broker: a group that two deployments
// both use splits one deployment's partitions among the other's members, and a group leader
// assigns only the topics it subscribes to itself, so each leaves part of the other's topic unread.
// Every group name is a setting; this check refuses, at start, a group that already serves another
// topic, instead of letting two deployments share it.
import type { Admin } from 'kafkajs';
import { kafkajs } from './kafkajs.ts';

export class GroupInUseError extends Error {
  constructor(
    readonly groupId: string,
    readonly topic: string,
    readonly foreignTopics: readonly string[],
  ) {
    super(
      `consumer group "${groupId}" already serves ${foreignTopics.map((t) => `"${t}"`).join(', ')}, not only "${topic}": ` +
        'another deployment (or an earlier setting of this one) uses it. Give this platform groups of its own ' +
        '(TIDEWATER_SPEED_GROUP, TIDEWATER_LAKE_GROUP, TIDEWATER_QUARANTINE_GROUP; unset, they derive from the topics)',
    );
    this.name = 'GroupInUseError';
  }
}

/** Topics other than `topic` that `groupId`'s members subscribe to or that it has offsets for. */
async function foreignTopics(admin: Admin, groupId: string, topic: string): Promise<Set<string>> {
  const foreign = new Set<string>();
  const { groups } = await admin.describeGroups([groupId]);
  for (const group of groups) {
    if (group.protocolType !== 'consumer') continue;
    for (const member of group.members) {
      const metadata = kafkajs.AssignerProtocol.MemberMetadata.decode(member.memberMetadata);
      for (const subscribed of metadata?.topics ?? []) if (subscribed !== topic) foreign.add(subscribed);
    }
  }
  for (const { topic: committed, partitions } of await admin.fetchOffsets({ groupId })) {
    if (committed !== topic && partitions.some((p) => Number(p.offset) >= 0)) foreign.add(committed);
  }
  return foreign;
}

/** Throws GroupInUseError when `groupId` serves any topic but `topic` on the broker `admin` talks to. */
export async function checkGroupServes(admin: Admin, groupId: string, topic: string): Promise<void> {
  const foreign = await foreignTopics(admin, groupId, topic);
  if (foreign.size > 0) throw new GroupInUseError(groupId, topic, [...foreign].sort());
}
