// Alerts: the latest ones, then every new one as it is raised (the API's Server-Sent Events
// stream, relayed by the console's server with the session's token). New alerts are announced
// to screen readers through a polite live region. An open alert can be acknowledged
// (POST /v1/alerts/{id}/acknowledge, alerts:write): it is closed, with who and when.
import { get, post, type Alert, type Page, type SessionInfo } from '../api.js';
import { actionButton, readOnlyNote, statusLine } from '../actions.js';
import { h, time } from '../dom.js';

export async function renderAlerts(main: HTMLElement, session: SessionInfo): Promise<void> {
  const canAck = session.scopes.includes('alerts:write');
  const outcome = statusLine('alerts-outcome');
  const seen = new Map<string, HTMLTableRowElement>();

  function handled(a: Alert): Node | string {
    if (a.acknowledged_at) return `Acknowledged by ${a.acknowledged_by ?? 'unknown'}, ${time(a.acknowledged_at)}`;
    if (a.status !== 'open') return 'Closed';
    return actionButton(
      'Acknowledge',
      { label: `Acknowledge ${a.rule} alert on ${a.subject}`, allowed: canAck, needs: 'alerts:write' },
      async () => {
        const done = await post<Alert>(`/v1/alerts/${a.id}/acknowledge`);
        const tr = row(done);
        seen.get(a.id)?.replaceWith(tr);
        seen.set(a.id, tr);
        outcome.ok(`Alert ${a.rule} on ${a.subject} acknowledged.`);
      },
      (err) => outcome.fail(err),
    );
  }

  function row(a: Alert): HTMLTableRowElement {
    return h(
      'tr',
      { 'data-alert-id': a.id },
      h('td', {}, time(a.last_seen)),
      h('td', {}, h('span', { class: `badge sev-${a.severity}` }, a.severity)),
      h('td', {}, a.rule),
      h('td', {}, a.summary),
      h('td', {}, a.count),
      h('td', {}, a.status),
      h('td', { class: 'handled' }, handled(a)),
    );
  }

  const status = h('p', { class: 'stream-status', id: 'stream-status' }, 'Connecting to the live stream…');
  const announcer = h('p', { class: 'visually-hidden', 'aria-live': 'polite', id: 'announcer' });
  const body = h('tbody', { id: 'alert-rows' });
  main.append(
    status,
    announcer,
    ...(canAck ? [] : [readOnlyNote(session.role, 'alerts:write', 'acknowledge alerts')]),
    outcome,
    h(
      'div',
      { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Alerts, newest first' },
      h(
        'table',
        {},
        h('caption', {}, 'Alerts, newest first'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['Last seen', 'Severity', 'Rule', 'Summary', 'Count', 'Status', 'Handled'].map((c) => h('th', { scope: 'col' }, c)),
          ),
        ),
        body,
      ),
    ),
  );
  const page = await get<Page<Alert>>('/v1/alerts?limit=50');
  // The API lists oldest first; newest first reads better here.
  for (const a of [...page.data].reverse()) {
    const tr = row(a);
    seen.set(a.id, tr);
    body.append(tr);
  }

  const stream = new EventSource('/console/api/alerts/stream');
  stream.addEventListener('open', () => (status.textContent = 'Live: new alerts appear here as they are raised.'));
  // The browser reconnects by itself (with Last-Event-ID) unless the server refused the stream.
  stream.addEventListener('error', () => {
    status.textContent =
      stream.readyState === EventSource.CLOSED
        ? 'The live stream has ended (the session may be over). Reload the page to reconnect.'
        : 'Live stream interrupted; reconnecting…';
  });
  stream.addEventListener('alert', (e) => {
    const a = JSON.parse((e as MessageEvent<string>).data) as Alert;
    const tr = row(a);
    // A repeated alert (same id, higher count) replaces its row.
    seen.get(a.id)?.remove();
    seen.set(a.id, tr);
    body.prepend(tr);
    announcer.textContent = `New ${a.severity} alert: ${a.summary}`;
  });
  addEventListener('pagehide', () => stream.close());
}
