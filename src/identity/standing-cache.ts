// A token's standing (token-standing.ts), kept per node instead of read on every request. An entry
// is valid only under the change-feed version it was read under (src/storage/change-feed.ts):
// a change made on this node takes effect at once (changed() after its commit), one made by any
// other process within the feed's bound (PostgreSQL: 1 s; SQLite: at once), and while the feed
// cannot vouch for that (version undefined) every request reads the database, as before.
//
// A read that overlaps a change is not kept: the version is taken before the read and the entry is
// stored only if it is still the same after it. Only standing tokens are kept; a refusal is read
// again next time. A grant's expiry is kept with the entry and ends it.
import { Lru } from '../lib/lru.js';
import type { ChangeFeed } from '../storage/types.js';
import type { TokenStanding } from './token-standing.js';

export interface StandingCache {
  /** The standing of the token with this hash: from the cache, or load()'s answer. */
  read(tokenHash: string, load: () => Promise<TokenStanding | undefined>): Promise<TokenStanding | undefined>;
}

export interface StandingReads {
  inc(labels: { source: 'cache' | 'database' }): void;
}

export function createStandingCache(feed: ChangeFeed, options: { maxEntries?: number; reads?: StandingReads } = {}): StandingCache {
  const entries = new Lru<{ version: number; standing: TokenStanding }>(options.maxEntries ?? 10_000);
  // Asked once now: a feed that starts on first use (PostgreSQL's listener) is live by the first request.
  feed.version();
  return {
    async read(tokenHash, load) {
      const version = feed.version();
      if (version !== undefined) {
        const hit = entries.get(tokenHash);
        if (hit !== undefined && hit.version === version) {
          const expires = hit.standing.grantExpiresAtMs;
          if (expires === undefined || expires > Date.now()) {
            options.reads?.inc({ source: 'cache' });
            return hit.standing;
          }
        }
        entries.delete(tokenHash);
      }
      options.reads?.inc({ source: 'database' });
      const standing = await load();
      if (standing !== undefined && version !== undefined && feed.version() === version) entries.set(tokenHash, { version, standing });
      return standing;
    },
  };
}
