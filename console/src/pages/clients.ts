// Clients: every client of the tenant with its scopes, and the least-privilege review (scopes
// registered but not used in the review's window, idle clients). An unused scope can be removed
// in one click (PUT /v1/admin/clients/{id}/scopes, admin:clients), as a script would do it. A
// client is revoked behind a confirm step (DELETE /v1/admin/clients/{id}, admin:clients): its
// tokens stop working at once. The console's own client of the tenant is never offered.
import { ApiError, del, get, put, type Client, type Review, type SessionInfo } from '../api.js';
import { confirmed, failure } from '../actions.js';
import { h, table, time } from '../dom.js';

const list = (items: string[]) => (items.length ? h('ul', { class: 'tags' }, ...items.map((s) => h('li', {}, s))) : '—');

export async function renderClients(main: HTMLElement, session: SessionInfo): Promise<void> {
  const [clients, review] = await Promise.all([
    get<{ data: Client[] }>('/v1/admin/clients'),
    get<Review>('/v1/admin/access-review?days=30'),
  ]);
  const canChange = session.scopes.includes('admin:clients');
  const notice = h('p', { role: 'status', id: 'clients-status' });
  main.append(
    notice,
    h('h2', {}, 'Registered clients'),
    table<Client>(
      'Clients of this tenant',
      [
        ['Name', (c) => c.name],
        ['Client id', (c) => h('code', {}, c.client_id)],
        ['Status', (c) => c.status],
        ['Authentication', (c) => `${c.auth_method}${c.fapi ? ' (FAPI 2.0)' : ''}`],
        ['Scopes', (c) => list(c.scopes)],
        ['Created', (c) => time(c.created_at)],
        ['Revoke', (c) => revokeAction(c)],
      ],
      clients.data,
    ),
    h('h2', {}, `Access review (last ${review.days} days)`),
    table<Review['clients'][number]>(
      'Registered versus exercised scopes',
      [
        ['Client', (c) => `${c.name} (${c.client_id})`],
        ['Exercised', (c) => list(c.exercised)],
        [
          'Unused',
          (c) => (c.unused.length ? h('ul', { class: 'tags' }, ...c.unused.map((s) => h('li', {}, s, ' ', removeButton(c, s)))) : '—'),
        ],
        ['Idle', (c) => (c.idle ? 'yes' : 'no')],
        ['Last used', (c) => time(c.last_used_at)],
      ],
      review.clients.filter((c) => c.status === 'active'),
    ),
  );

  function revokeAction(c: Client): HTMLElement | string {
    if (c.client_id === session.client_id) return 'this console';
    if (c.status !== 'active') return '—';
    return confirmed(
      'Revoke',
      {
        label: `Revoke ${c.name} (${c.client_id})`,
        allowed: canChange,
        needs: 'admin:clients',
        confirmLabel: 'Confirm revocation',
        warning: `${c.name} is revoked: every token it holds stops working at once and it gets no new ones. The revocation is audited and cannot be undone.`,
      },
      async () => {
        await del(`/v1/admin/clients/${c.client_id}`);
        location.reload();
      },
      (err) => {
        notice.className = 'error';
        notice.textContent = `Not revoked: ${failure(err)}`;
      },
    );
  }

  function removeButton(c: Review['clients'][number], scope: string): HTMLElement {
    const keep = c.registered.filter((s) => s !== scope);
    const label = `Remove ${scope} from ${c.name}`;
    // The last scope cannot go (a client needs one); revocation is the way to take everything.
    const disabled = !canChange || keep.length === 0;
    const b = h('button', { type: 'button', class: 'small', 'aria-label': label, disabled }, 'Remove');
    b.addEventListener('click', () => {
      b.disabled = true;
      put(`/v1/admin/clients/${c.client_id}/scopes`, { scopes: keep })
        .then(() => location.reload())
        .catch((err: unknown) => {
          b.disabled = false;
          notice.className = 'error';
          notice.textContent = err instanceof ApiError ? `Not changed: ${err.message}` : 'Not changed.';
        });
    });
    return b;
  }
}
