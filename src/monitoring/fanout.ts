// Alert fan-out to the SSE streams of every node. Alone, a node delivers in process; with
// REDIS_URL, every alert goes through one pub/sub channel and each node (the raising one too)
// delivers what it receives, so a stream on any node sees the alerts raised on all of them.
import { Redis } from 'ioredis';

export interface Fanout {
  publish(message: string): Promise<void>;
  subscribe(listener: (message: string) => void): () => void;
  close(): Promise<void>;
}

export function createLocalFanout(): Fanout {
  const listeners = new Set<(m: string) => void>();
  return {
    async publish(message) {
      for (const l of listeners) l(message);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      listeners.clear();
    },
  };
}

export async function createRedisFanout(url: string, channel: string, onError: (err: unknown) => void): Promise<Fanout> {
  const options = { lazyConnect: true, maxRetriesPerRequest: 2, enableOfflineQueue: true };
  const pub = new Redis(url, options);
  const sub = new Redis(url, options);
  pub.on('error', onError);
  sub.on('error', onError);
  const listeners = new Set<(m: string) => void>();
  sub.on('message', (ch: string, message: string) => {
    if (ch !== channel) return;
    for (const l of listeners) l(message);
  });
  await Promise.all([pub.connect(), sub.connect()]);
  // Subscribed before start returns: nothing published after this node is up can be missed.
  await sub.subscribe(channel);
  return {
    async publish(message) {
      await pub.publish(channel, message);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      listeners.clear();
      await Promise.allSettled([sub.quit(), pub.quit()]);
    },
  };
}
