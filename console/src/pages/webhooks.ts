// Webhooks: the tenant's endpoints and each one's latest deliveries, with Retry for a delivery
// that failed (webhooks:manage). Secrets are never listed (only a creation or rotation answer
// carries one, and the console does neither).
import { get, post, type Delivery, type Page, type SessionInfo, type WebhookEndpoint } from '../api.js';
import { actionButton, statusLine } from '../actions.js';
import { h, table, time } from '../dom.js';

export async function renderWebhooks(main: HTMLElement, session: SessionInfo): Promise<void> {
  const canRetry = session.scopes.includes('webhooks:manage');
  const outcome = statusLine('webhooks-outcome');
  const endpoints = await get<Page<WebhookEndpoint>>('/v1/webhook-endpoints?limit=20');
  main.append(
    outcome,
    table<WebhookEndpoint>(
      'Webhook endpoints',
      [
        ['URL', (e) => h('code', {}, e.url)],
        ['Events', (e) => h('ul', { class: 'tags' }, ...e.events.map((x) => h('li', {}, x)))],
        ['Status', (e) => e.status],
        ['Created', (e) => time(e.created_at)],
      ],
      endpoints.data,
      'none registered.',
    ),
  );
  const deliveries = await Promise.all(
    endpoints.data.map((e) => get<Page<Delivery>>(`/v1/webhook-endpoints/${e.id}/deliveries?limit=20`).then((d) => [e, d.data] as const)),
  );
  for (const [e, list] of deliveries) {
    const t = table<Delivery>(
      `Latest deliveries to ${e.url}`,
      [
        ['Created', (d) => time(d.created_at)],
        ['Event', (d) => h('code', {}, d.event_id)],
        ['Status', (d) => h('span', { class: 'delivery-status' }, d.status)],
        ['Attempts', (d) => d.attempts],
        ['Last answer', (d) => (d.last_status !== null ? `HTTP ${d.last_status}` : (d.last_error ?? '—'))],
        ['Delivered', (d) => time(d.delivered_at)],
        [
          'Retry',
          (d) =>
            d.status === 'failed'
              ? actionButton(
                  'Retry',
                  { label: `Retry delivery ${d.id}`, allowed: canRetry, needs: 'webhooks:manage' },
                  async () => {
                    await post<unknown>(`/v1/webhook-endpoints/${e.id}/deliveries/${d.id}/retry`);
                    outcome.ok(`Delivery ${d.id} queued again.`);
                    document.querySelector(`[data-delivery-id="${d.id}"] .delivery-status`)!.textContent = 'pending';
                  },
                  (err) => outcome.fail(err),
                )
              : '—',
        ],
      ],
      list,
      'none yet.',
    );
    t.querySelectorAll('tbody tr').forEach((tr, i) => tr.setAttribute('data-delivery-id', list[i]!.id));
    main.append(h('h2', {}, `Deliveries to ${e.url}`), t);
  }
}
