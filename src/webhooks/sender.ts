// One delivery over the network: the SSRF guard resolves the host and checks every address, the
// socket is pinned to the checked address (TLS still verifies the URL's hostname), redirects are
// not followed (a 3xx is a failure), and the whole attempt is bounded in time and in what is read.
import { Agent, request } from 'undici';
import { pinnedLookup, resolveDeliveryTarget, systemResolver, type Resolver, type WebhookNetworkPolicy } from './ssrf-guard.js';

const TIMEOUT_MS = 10_000;
const MAX_RESPONSE_BYTES = 4096;

export interface DeliveryAttempt {
  ok: boolean;
  /** The receiver's HTTP status, when it answered. */
  status: number | undefined;
  /** Why it failed, in a few words (never the receiver's body). */
  error: string | undefined;
}

export type Send = (url: string, headers: Record<string, string>, body: string) => Promise<DeliveryAttempt>;

export function createSender(policy: WebhookNetworkPolicy, resolve: Resolver = systemResolver): Send {
  return async (url, headers, body) => {
    const target = await resolveDeliveryTarget(new URL(url), policy, resolve);
    if (!target.ok) return { ok: false, status: undefined, error: target.reason };
    const dispatcher = new Agent({
      connect: { lookup: pinnedLookup(target.address, target.family), timeout: TIMEOUT_MS },
      headersTimeout: TIMEOUT_MS,
      bodyTimeout: TIMEOUT_MS,
      pipelining: 0,
    });
    try {
      const res = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'vaultgate-webhooks/1', ...headers },
        body,
        dispatcher,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      // Read a little (a receiver's answer is not ours to keep), then let the connection go.
      let read = 0;
      for await (const chunk of res.body) {
        read += (chunk as Buffer).length;
        if (read > MAX_RESPONSE_BYTES) break;
      }
      const ok = res.statusCode >= 200 && res.statusCode < 300;
      return { ok, status: res.statusCode, error: ok ? undefined : `HTTP ${res.statusCode}` };
    } catch (err) {
      return { ok: false, status: undefined, error: ((err as { code?: string }).code ?? (err as Error).name ?? 'error').slice(0, 60) };
    } finally {
      dispatcher.destroy().catch(() => undefined);
    }
  };
}
