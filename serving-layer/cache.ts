/**
 * Remembers each key's promise for `ttlMs`, so a burst of requests shares one lookup of slowly
 * changing facts (freshness, quarantine counts). A failed lookup is forgotten at once.
 */
export function ttlCache<V>(ttlMs: number, load: (key: string) => Promise<V>): (key: string) => Promise<V> {
  const entries = new Map<string, { at: number; value: Promise<V> }>();
  return (key) => {
    const now = Date.now();
    const hit = entries.get(key);
    if (hit && now - hit.at < ttlMs) return hit.value;
    if (entries.size > 1000) for (const [k, e] of entries) if (now - e.at >= ttlMs) entries.delete(k);
    const value = load(key);
    value.catch(() => entries.delete(key));
    entries.set(key, { at: now, value });
    return value;
  };
}
