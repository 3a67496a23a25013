// Users: the tenant's end users (role, status, second factor; no personal data, `?email=` finds
// one), with a role change, Disable and Reset MFA (admin:users). A reset's one-time enrolment
// code is shown once, like a new client secret, and is never shown again. Nobody changes their
// own account here (the API refuses it too).
import { get, post, put, type Page, type SessionInfo, type User, type UserChange } from '../api.js';
import { actionButton, readOnlyNote, statusLine } from '../actions.js';
import { h, table, time } from '../dom.js';

const ROLES = ['customer', 'operator', 'auditor', 'admin'];

export async function renderUsers(main: HTMLElement, session: SessionInfo): Promise<void> {
  const params = new URLSearchParams(location.search);
  const email = params.get('email') ?? '';
  const after = params.get('starting_after') ?? '';
  const q = new URLSearchParams({ limit: '50' });
  if (email) q.set('email', email);
  if (after) q.set('starting_after', after);
  const canChange = session.scopes.includes('admin:users');
  const outcome = statusLine('users-outcome');
  const secret = h('div', { id: 'enrolment-code', class: 'secret', hidden: true });

  const form = h(
    'form',
    { class: 'filters one', method: 'get', action: '/console/users', role: 'search' },
    h('label', { for: 'email' }, 'E-mail', h('input', { id: 'email', name: 'email', type: 'email', value: email, autocomplete: 'off' })),
    h('button', { type: 'submit' }, 'Find'),
  );
  main.append(form, ...(canChange ? [] : [readOnlyNote(session.role, 'admin:users', 'change users')]), outcome, secret);

  const users = await get<Page<User>>(`/v1/admin/users?${q}`);

  function own(u: User) {
    return u.id === session.user_id;
  }

  const done = (u: User, change: UserChange, what: string) => {
    outcome.ok(`${u.id}: ${what}.`);
    u.role = change.role;
    u.status = change.status as User['status'];
  };

  function roleCell(u: User): Node {
    const id = `role-${u.id}`;
    const select = h(
      'select',
      { id, disabled: !canChange || own(u) || u.status !== 'active' },
      ...ROLES.map((r) => h('option', { value: r, selected: r === u.role }, r)),
    );
    const label = h('label', { for: id, class: 'visually-hidden' }, `Role of ${u.id}`);
    const apply = actionButton(
      'Change role',
      { label: `Change role of ${u.id}`, allowed: canChange, off: own(u) || u.status !== 'active', needs: 'admin:users' },
      async () => {
        const change = await put<UserChange>(`/v1/admin/users/${u.id}/role`, { role: select.value });
        done(u, change, `role is now ${change.role}`);
        apply.disabled = false;
      },
      (err) => outcome.fail(err),
    );
    return h('span', { class: 'inline' }, label, select, ' ', apply);
  }

  function actions(u: User): Node {
    if (own(u)) return h('span', {}, 'Your own account');
    const off = u.status !== 'active';
    const disable = actionButton(
      'Disable',
      { label: `Disable ${u.id}`, allowed: canChange, off, needs: 'admin:users', className: 'small danger' },
      async () => {
        const change = await post<UserChange>(`/v1/admin/users/${u.id}/disable`);
        done(u, change, 'disabled; it can no longer sign in and its tokens have stopped');
        document.querySelector(`[data-user-id="${u.id}"] .user-status`)!.textContent = change.status;
      },
      (err) => outcome.fail(err),
    );
    const reset = actionButton(
      'Reset MFA',
      { label: `Reset MFA of ${u.id}`, allowed: canChange, off, needs: 'admin:users' },
      async () => {
        const change = await post<UserChange>(`/v1/admin/users/${u.id}/reset-mfa`);
        done(u, change, 'second factor removed');
        // Shown once: the page never asks for it again, and a reload loses it.
        secret.hidden = false;
        secret.replaceChildren(
          h('h2', {}, 'One-time enrolment code'),
          h('p', {}, `Give this code to the user of ${u.id}: it enrols a new second factor at the next sign-in. It is shown only now.`),
          h('p', {}, h('code', { id: 'enrolment-code-value' }, change.enrolment_code ?? '—')),
          change.enrolment_code_expires_at ? h('p', {}, `Valid until ${time(change.enrolment_code_expires_at)}.`) : '',
        );
        secret.focus();
        reset.disabled = false;
      },
      (err) => outcome.fail(err),
    );
    return h('span', { class: 'inline' }, disable, ' ', reset);
  }

  const rows = users.data;
  const t = table<User>(
    email ? `Users with the e-mail ${email}` : 'Users of this tenant',
    [
      ['User id', (u) => h('code', {}, u.id)],
      ['Role', (u) => roleCell(u)],
      ['Status', (u) => h('span', { class: 'user-status' }, u.status)],
      ['Second factor', (u) => u.mfa],
      ['Created', (u) => time(u.created_at)],
      ['Actions', (u) => actions(u)],
    ],
    rows,
  );
  // Each row carries its user's id (the tests and the status update find it by that).
  t.querySelectorAll('tbody tr').forEach((tr, i) => tr.setAttribute('data-user-id', rows[i]!.id));
  secret.setAttribute('tabindex', '-1');
  main.append(t);
  if (users.has_more && users.next_cursor) {
    const next = new URLSearchParams(email ? { email } : {});
    next.set('starting_after', users.next_cursor);
    main.append(h('p', {}, h('a', { href: `/console/users?${next}` }, 'Next page')));
  }
}
