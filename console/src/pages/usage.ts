// Usage analytics: requests per client, route and status class over a window, with the latency
// percentiles (p50/p95/p99). Each chart is a table: the numbers are the text (what a screen
// reader and a narrow screen get), the bars are decoration (aria-hidden, widths through the CSSOM).
import { get, type Client, type SessionInfo, type Usage, type UsageGroup } from '../api.js';
import { h, table } from '../dom.js';

const WINDOWS: Array<[string, string, number]> = [
  ['1h', 'Last hour', 3600_000],
  ['24h', 'Last 24 hours', 24 * 3600_000],
  ['7d', 'Last 7 days', 7 * 24 * 3600_000],
];

const ms = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));

function chart(caption: string, label: string, rows: Array<{ name: string; g: UsageGroup }>): HTMLElement {
  const max = Math.max(1, ...rows.map((r) => r.g.requests));
  return table<(typeof rows)[number]>(
    caption,
    [
      [label, (r) => r.name],
      ['Requests', (r) => r.g.requests],
      [
        'Share',
        (r) => {
          const bar = h('span', { class: 'bar', 'aria-hidden': 'true' });
          bar.style.width = `${Math.round((r.g.requests / max) * 100)}%`;
          return h('span', { class: 'bar-track' }, bar);
        },
      ],
      ['Rate limited', (r) => r.g.rate_limited],
      ['p50 ms', (r) => ms(r.g.latency_ms.p50)],
      ['p95 ms', (r) => ms(r.g.latency_ms.p95)],
      ['p99 ms', (r) => ms(r.g.latency_ms.p99)],
    ],
    rows,
    'no requests in this window.',
  );
}

const byRequests = (a: UsageGroup, b: UsageGroup) => b.requests - a.requests;

export async function renderUsage(main: HTMLElement, session: SessionInfo): Promise<void> {
  const chosen = WINDOWS.find(([k]) => k === new URLSearchParams(location.search).get('window')) ?? WINDOWS[0]!;
  const to = new Date();
  const from = new Date(to.getTime() - chosen[2]);
  const range = `from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`;
  main.append(
    h(
      'nav',
      { 'aria-label': 'Window', class: 'windows' },
      h(
        'ul',
        { class: 'tags' },
        ...WINDOWS.map(([k, name]) =>
          h('li', {}, h('a', { href: `/console/usage?window=${k}`, 'aria-current': k === chosen[0] ? 'page' : undefined }, name)),
        ),
      ),
    ),
  );
  const [byClient, byRoute, byStatus, clients] = await Promise.all([
    get<Usage>(`/v1/admin/usage?group_by=client&${range}`),
    get<Usage>(`/v1/admin/usage?group_by=route&${range}`),
    get<Usage>(`/v1/admin/usage?group_by=status&${range}`),
    session.scopes.includes('admin:clients') ? get<{ data: Client[] }>('/v1/admin/clients') : Promise.resolve({ data: [] as Client[] }),
  ]);
  const names = new Map(clients.data.map((c) => [c.client_id, c.name]));
  const total = byStatus.groups.reduce((n, g) => n + g.requests, 0);
  main.append(
    h('p', { id: 'usage-total' }, `${chosen[1]}: ${total} requests.`),
    h(
      'section',
      { 'aria-labelledby': 'by-client' },
      h('h2', { id: 'by-client' }, 'By client'),
      chart(
        'Requests and latency by client',
        'Client',
        [...byClient.groups]
          .sort(byRequests)
          .slice(0, 20)
          .map((g) => ({
            name: g.client_id ? (names.has(g.client_id) ? `${names.get(g.client_id)} (${g.client_id})` : g.client_id) : 'unauthenticated',
            g,
          })),
      ),
    ),
    h(
      'section',
      { 'aria-labelledby': 'by-route' },
      h('h2', { id: 'by-route' }, 'By route'),
      chart(
        'Requests and latency by route',
        'Route',
        [...byRoute.groups]
          .sort(byRequests)
          .slice(0, 20)
          .map((g) => ({ name: g.route ?? 'other', g })),
      ),
    ),
    h(
      'section',
      { 'aria-labelledby': 'by-status' },
      h('h2', { id: 'by-status' }, 'By status'),
      chart(
        'Requests and latency by status class',
        'Status',
        [...byStatus.groups]
          .sort((a, b) => String(a.status_class).localeCompare(String(b.status_class)))
          .map((g) => ({ name: g.status_class ?? 'other', g })),
      ),
    ),
  );
}
