// PostgreSQL's change feed: triggers on the watched tables NOTIFY `vaultgate_standing` in the
// changing transaction (migration 13), so every writer is heard — another node, the CLI, an
// operator with psql — once its transaction commits. One dedicated connection per process LISTENs.
//
// The bound (1 s) holds even when that connection dies silently (a frozen peer, a cut
// cable, no RST) or never receives anything (a pooler in transaction mode does not carry LISTEN):
// every 250 ms the listener NOTIFYs a channel of its own with a fresh nonce and waits to hear it
// back. Notifications are delivered in commit order, so hearing the probe proves that every change
// committed before the probe was sent has been heard. version() answers only while a probe sent
// within the bound has come back; otherwise it is undefined and caches read through, until the
// channel is back (a reconnect starts a new version: what was missed is unknown).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { ChangeFeed } from '../change-feed.js';

export const STANDING_CHANNEL = 'vaultgate_standing';
const PROBE_EVERY_MS = 250;
/** A probe not heard back this late means the connection is of no use: drop it and connect anew. */
const PROBE_GIVE_UP_MS = 3_000;

/** How stale another process's change may be seen, at most. */
const BOUND_MS = 1_000;

export function createPgChangeFeed(url: string): ChangeFeed {
  let version = 0;
  let client: pg.Client | undefined;
  let connecting = false;
  let started = false;
  let closed = false;
  /** When the newest probe heard back was sent; undefined while not listening. */
  let confirmedAt: number | undefined;
  let probe: { nonce: string; sentAt: number } | undefined;
  let probes = 0;
  // Ours alone (random hex, never input): only this connection listens on it.
  const probeChannel = `vaultgate_probe_${randomBytes(8).toString('hex')}`;
  let timer: NodeJS.Timeout | undefined;

  function drop(c: pg.Client): void {
    if (client !== c) return;
    client = undefined;
    confirmedAt = undefined;
    probe = undefined;
    version++;
    // Not awaited: a frozen peer would hold end() until it wakes.
    c.end().catch(() => undefined);
  }

  async function connect(): Promise<void> {
    if (connecting || client || closed) return;
    connecting = true;
    const c = new pg.Client({
      connectionString: url,
      application_name: 'vaultgate-change-feed',
      keepAlive: true,
      connectionTimeoutMillis: PROBE_GIVE_UP_MS,
    });
    c.on('error', () => drop(c));
    c.on('end', () => drop(c));
    c.on('notification', (n) => {
      if (client !== c) return;
      if (n.channel === STANDING_CHANNEL) version++;
      else if (n.channel === probeChannel && probe !== undefined && probe.nonce === n.payload) {
        confirmedAt = probe.sentAt;
        probe = undefined;
      }
    });
    try {
      await c.connect();
      const sentAt = Date.now();
      await c.query(`LISTEN ${STANDING_CHANNEL}; LISTEN ${probeChannel}`);
      if (closed) {
        await c.end().catch(() => undefined);
        return;
      }
      client = c;
      // Whatever changed while nobody listened is unknown: a new version.
      version++;
      confirmedAt = sentAt;
    } catch {
      c.end().catch(() => undefined);
    } finally {
      connecting = false;
    }
  }

  function sendProbe(): void {
    const c = client;
    if (!c) {
      void connect();
      return;
    }
    const now = Date.now();
    if (probe !== undefined) {
      if (now - probe.sentAt > PROBE_GIVE_UP_MS) drop(c);
      return;
    }
    probe = { nonce: String(++probes), sentAt: now };
    c.query('SELECT pg_notify($1, $2)', [probeChannel, probe.nonce]).catch(() => drop(c));
  }

  function start(): void {
    started = true;
    void connect();
    timer = setInterval(sendProbe, PROBE_EVERY_MS);
    timer.unref();
  }

  return {
    version() {
      // Started on first use: a CLI command that never caches never opens the connection.
      if (!started && !closed) start();
      if (confirmedAt === undefined || Date.now() - confirmedAt > BOUND_MS) return undefined;
      return version;
    },
    changed: () => void version++,
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      const c = client;
      client = undefined;
      if (c) await c.end().catch(() => undefined);
    },
  };
}
