// The audit log: a search by time, action, outcome and client, the results with paging, and the
// chain check of what is on screen.
import { ApiError, get, type AuditEvent, type Page } from '../api.js';
import { checkChain } from '../audit-chain.js';

interface Verification {
  last_verified_at: string | null;
  events: number | null;
  head_seq: number | null;
}
import { clear, h, table, time } from '../dom.js';

const FIELDS = ['action', 'outcome', 'client_id', 'from', 'to'] as const;

function field(label: string, input: HTMLElement, id: string): HTMLElement {
  return h('div', { class: 'field' }, h('label', { for: id }, label), input);
}

/** datetime-local gives local wall time without a zone; the API wants RFC 3339. */
const toIso = (v: string) => (v ? new Date(v).toISOString() : '');

export async function renderAudit(main: HTMLElement): Promise<void> {
  const query = new URLSearchParams(location.search);
  const input = (name: string, attrs: Record<string, string> = {}) =>
    h('input', { id: `f-${name}`, name, value: query.get(name) ?? '', ...attrs });
  const outcome = h(
    'select',
    { id: 'f-outcome', name: 'outcome' },
    ...['', 'success', 'failure', 'denied'].map((o) => h('option', { value: o, selected: (query.get('outcome') ?? '') === o }, o || 'any')),
  );
  const form = h(
    'form',
    { class: 'filters', method: 'get', action: '/console/audit', role: 'search', 'aria-label': 'Search the audit log' },
    field('Action', input('action', { placeholder: 'e.g. client.create', spellcheck: 'false' }), 'f-action'),
    field('Outcome', outcome, 'f-outcome'),
    field('Client id', input('client_id', { spellcheck: 'false' }), 'f-client_id'),
    field('From (UTC)', input('from', { type: 'datetime-local', step: '1' }), 'f-from'),
    field('To (UTC)', input('to', { type: 'datetime-local', step: '1' }), 'f-to'),
    h('div', { class: 'field actions' }, h('button', { type: 'submit' }, 'Search')),
  );
  const chain = h('p', { class: 'chain', id: 'chain-status', role: 'status' }, 'Checking the chain…');
  const results = h('div', { id: 'audit-results' });
  // The server's own periodic check of the whole chain (GET /v1/audit-events/verification).
  const whole = h('p', { class: 'chain', id: 'chain-verification' }, 'Whole chain: asking the server…');
  main.append(form, whole, chain, results);
  void get<Verification>('/v1/audit-events/verification')
    .then((v) => {
      whole.className = v.last_verified_at ? 'chain ok' : 'chain';
      whole.textContent = v.last_verified_at
        ? `Whole chain: last verified intact by the server at ${time(v.last_verified_at)}` +
          (v.events !== null ? ` (${v.events} events, up to #${v.head_seq}).` : '.')
        : 'Whole chain: the server has not verified it yet (it checks periodically).';
    })
    .catch(() => {
      whole.className = 'chain';
      whole.textContent = 'Whole chain: the server’s verification status is not available.';
    });

  const api = new URLSearchParams({ limit: '50' });
  for (const name of FIELDS) {
    const v = query.get(name);
    if (v) api.set(name, name === 'from' || name === 'to' ? toIso(v) : v);
  }
  const after = query.get('starting_after');
  if (after) api.set('starting_after', after);

  let page: Page<AuditEvent>;
  try {
    page = await get<Page<AuditEvent>>(`/v1/audit-events?${api.toString()}`);
  } catch (err) {
    chain.textContent = '';
    results.append(
      h('p', { class: 'error', role: 'alert' }, err instanceof ApiError ? `The search was refused: ${err.message}` : 'The search failed.'),
    );
    return;
  }
  clear(results);
  results.append(
    table<AuditEvent>(
      `Audit events (${page.data.length}${page.has_more ? '+' : ''}), oldest first`,
      [
        ['#', (e) => e.seq],
        ['Time', (e) => time(e.time)],
        ['Action', (e) => e.action],
        ['Outcome', (e) => h('span', { class: `badge out-${e.outcome}` }, e.outcome)],
        ['Client', (e) => e.actor.client_id ?? '—'],
        ['User', (e) => e.actor.user_id ?? '—'],
        ['IP', (e) => e.actor.ip ?? '—'],
        ['Target', (e) => e.target ?? '—'],
      ],
      page.data,
      'no event matches.',
    ),
  );
  if (page.has_more && page.next_cursor) {
    const next = new URLSearchParams(query);
    next.set('starting_after', page.next_cursor);
    results.append(h('p', {}, h('a', { href: `/console/audit?${next.toString()}` }, 'Next page')));
  }
  const check = await checkChain(page.data);
  chain.className = check.broken ? 'chain error' : 'chain ok';
  chain.textContent = check.broken
    ? `Chain BROKEN at event #${check.broken.seq} (${check.broken.why === 'hash' ? 'its hash does not match its contents' : 'it does not follow the event before it'}).`
    : `Chain intact for the ${check.checked} events shown: every hash recomputed, ${check.links} links checked` +
      (check.gaps ? `, ${check.gaps} gaps where other tenants’ events sit.` : '.');
}
