// SQLite's change feed: another connection's commit (the CLI, another process on the same file)
// changes PRAGMA data_version as seen from this one; this connection's own commits do not, so they
// are announced by changed(). Reading the pragma is a few microseconds and touches no page, so it
// runs on every version(): another process's change is seen at once.
import type BetterSqlite3 from 'better-sqlite3';
import type { ChangeFeed } from '../change-feed.js';

export function createSqliteChangeFeed(db: BetterSqlite3.Database): ChangeFeed {
  const dataVersion = db.prepare('PRAGMA data_version').pluck();
  let seen: unknown;
  let version = 0;
  return {
    version() {
      if (!db.open) return undefined;
      const now = dataVersion.get();
      if (now !== seen) {
        seen = now;
        version++;
      }
      return version;
    },
    changed: () => void version++,
    close: async () => undefined,
  };
}
