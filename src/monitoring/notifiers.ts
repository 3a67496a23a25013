// Outbound alert notifiers. The webhook is signed like Stripe's: `Vaultgate-Signature:
// t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`, so a receiver can check origin, integrity
// and freshness (reject an old t). Both notifiers retry on network errors, 408, 429 and 5xx with
// exponential backoff and jitter; a delivery never blocks the request that raised the alert.
import { createHmac } from 'node:crypto';
import type { NotifierSettings } from './alert-config.js';

export interface NotifierLogger {
  warn(obj: object, msg?: string): void;
}

export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

const RETRYABLE = (status: number) => status === 408 || status === 429 || status >= 500;

export interface AlertPayload {
  id: string;
  rule: string;
  severity: string;
  summary: string;
  subject: string;
}

export function createNotifiers(settings: readonly NotifierSettings[], logger: NotifierLogger, options: { baseDelayMs?: number } = {}) {
  const baseDelay = options.baseDelayMs ?? 500;
  const inflight = new Set<Promise<void>>();
  let closed = false;

  async function deliver(n: NotifierSettings, alert: AlertPayload): Promise<void> {
    const host = new URL(n.url).host; // logged instead of the URL (paths of Slack hooks are secrets)
    const body =
      n.type === 'webhook'
        ? JSON.stringify({ type: 'alert.raised', created: Math.floor(Date.now() / 1000), data: alert })
        : JSON.stringify({ text: `:rotating_light: [${alert.severity}] ${alert.rule}: ${alert.summary} (${alert.id})` });
    for (let attempt = 1; attempt <= n.maxAttempts && !closed; attempt++) {
      const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'vaultgate-alerts/1' };
      // Signed per attempt: the timestamp tells the receiver how fresh this delivery is.
      if (n.type === 'webhook') headers['vaultgate-signature'] = signWebhook(n.secret, Math.floor(Date.now() / 1000), body);
      let status = 0;
      try {
        const res = await fetch(n.url, { method: 'POST', headers, body, redirect: 'error', signal: AbortSignal.timeout(5000) });
        status = res.status;
        await res.body?.cancel().catch(() => undefined);
        if (res.ok) return;
        if (!RETRYABLE(status)) break;
      } catch {
        status = 0; // network error or timeout: retry
      }
      if (attempt < n.maxAttempts) {
        const delay = baseDelay * 2 ** (attempt - 1) * (0.5 + Math.random() / 2);
        await new Promise((r) => setTimeout(r, delay).unref());
      }
    }
    logger.warn({ event: 'alert.notify_failed', notifier: n.type, host, alert_id: alert.id }, 'alert notification failed');
  }

  return {
    notify(alert: AlertPayload): void {
      for (const n of settings) {
        const p = deliver(n, alert).catch(() => undefined);
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      }
    },
    async close(): Promise<void> {
      closed = true;
      await Promise.allSettled([...inflight]);
    },
  };
}
