// The scan's own listener for server-side request forgery: URL-typed fields are given a URL of
// this listener with a one-off probe id, and a request arriving there proves the target fetched
// what a caller named. It listens on 127.0.0.1 only, so it can only be reached by a target on the
// same machine; it answers every request with 204 and an empty body.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';

export interface CallbackListener {
  /** A fresh URL of the listener for one probe, and the probe's id. */
  probe(): { id: string; url: string };
  /** Whether the listener was called for this probe, waiting up to `ms` for it. */
  waitFor(id: string, ms: number): Promise<boolean>;
  close(): Promise<void>;
}

export async function openCallbackListener(): Promise<CallbackListener> {
  const hits = new Set<string>();
  const waiters = new Map<string, () => void>();
  const server: Server = createServer((req, res) => {
    const id = /^\/vaultgate-scan\/([0-9a-f]{24})/.exec(req.url ?? '')?.[1];
    if (id) {
      hits.add(id);
      waiters.get(id)?.();
    }
    req.resume();
    res.writeHead(204).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    probe() {
      const id = randomBytes(12).toString('hex');
      return { id, url: `http://127.0.0.1:${port}/vaultgate-scan/${id}` };
    },
    async waitFor(id, ms) {
      if (hits.has(id)) return true;
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          waiters.delete(id);
          resolve(hits.has(id));
        }, ms);
        waiters.set(id, () => {
          clearTimeout(timer);
          waiters.delete(id);
          resolve(true);
        });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
