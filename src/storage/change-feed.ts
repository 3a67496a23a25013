// What a cache needs to know to stay correct: a version of the data it mirrors, as this process
// knows it. Each engine says how it learns of other processes' changes (SQLite: PRAGMA
// data_version; PostgreSQL: LISTEN/NOTIFY fed by triggers); this process says so itself, once its
// change has committed. The one use today is a token's standing (src/identity/standing-cache.ts):
// clients, revoked tokens, grants and users.

export interface ChangeFeed {
  /**
   * The current version, or undefined while this process cannot know whether another one has
   * changed the data (PostgreSQL: the notification channel is down or has not been confirmed
   * within the bound): a cache must then read through. A value kept under one version is valid
   * only while version() still returns that same number.
   */
  version(): number | undefined;
  /** This process changed the data: call it after the change has committed. */
  changed(): void;
  close(): Promise<void>;
}

/** A feed that only knows this process's own changes: for a database no other process writes. */
export function createLocalChangeFeed(): ChangeFeed {
  let version = 0;
  return {
    version: () => version,
    changed: () => void version++,
    close: async () => undefined,
  };
}

/** The change `committed` makes, announced to this process once it has committed: `committed`'s value. */
export async function announced<T>(feed: ChangeFeed, committed: Promise<T>): Promise<T> {
  const value = await committed;
  feed.changed();
  return value;
}
