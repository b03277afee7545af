// API keys: `tw_<id>_<secret>`, where only the sha-256 of the whole key is stored (in Redis, the
// store every API instance shares), so a leaked store does not leak usable keys. The secret is
// shown once, when the key is created.
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

export const ROLES = ['reader', 'ingest', 'engineer', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export const isRole = (s: string): s is Role => (ROLES as readonly string[]).includes(s);

export interface ApiKey {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
}

const hash = (key: string) => createHash('sha256').update(key).digest('hex');

export class KeyStore {
  /** sha-256 of a key -> its ApiKey as JSON. */
  private readonly byHash: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.byHash = `${prefix}:api-keys`;
  }

  /** A new key; the returned `secret` is the only copy of it. */
  async create(role: Role, name = ''): Promise<ApiKey & { secret: string }> {
    const id = randomBytes(6).toString('hex');
    const secret = `tw_${id}_${randomBytes(24).toString('base64url')}`;
    const key: ApiKey = { id, name, role, createdAt: new Date().toISOString() };
    await this.redis.hset(this.byHash, hash(secret), JSON.stringify(key));
    return { ...key, secret };
  }

  /** The key `secret` stands for, or undefined when it is unknown or revoked. */
  async verify(secret: string): Promise<ApiKey | undefined> {
    const stored = await this.redis.hget(this.byHash, hash(secret));
    return stored === null ? undefined : (JSON.parse(stored) as ApiKey);
  }

  async list(): Promise<ApiKey[]> {
    const all = Object.values(await this.redis.hgetall(this.byHash)).map((v) => JSON.parse(v) as ApiKey);
    return all.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** Revokes key `id`; false when there is none. */
  async revoke(id: string): Promise<boolean> {
    for (const [h, v] of Object.entries(await this.redis.hgetall(this.byHash))) {
      if ((JSON.parse(v) as ApiKey).id === id) return (await this.redis.hdel(this.byHash, h)) === 1;
    }
    return false;
  }
}
