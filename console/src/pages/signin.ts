// The sign-in page (no session yet) and the refusal page (a role the console is not for).
import { clear, h } from '../dom.js';

const MESSAGES: Record<string, string> = {
  unknown_tenant: 'No organisation of that name uses this console. Check the name and try again.',
  expired: 'That sign-in expired or was started elsewhere. Start again.',
  signin_failed: 'Sign-in failed. Start again.',
  cancelled: 'Sign-in was cancelled.',
  session_ended: 'Your session has ended. Sign in again.',
};

export function renderSignIn(app: HTMLElement, query: URLSearchParams): void {
  const error = query.get('error');
  const tenant = query.get('tenant') ?? '';
  clear(app);
  document.title = 'Sign in · vaultgate console';
  app.append(
    h(
      'main',
      { id: 'main', class: 'narrow' },
      h('h1', {}, 'vaultgate security console'),
      query.get('signed_out') ? h('p', { class: 'notice', role: 'status' }, 'You are signed out.') : null,
      error ? h('p', { class: 'error', role: 'alert' }, MESSAGES[error] ?? 'Sign-in failed.') : null,
      h(
        'p',
        {},
        'For administrators, operators and auditors. You sign in on the platform’s own page, with your password and, for administrators and operators, a code from your authenticator app.',
      ),
      h(
        'form',
        { method: 'get', action: '/console/login' },
        h('label', { for: 'tenant' }, 'Organisation (tenant name)'),
        h('input', {
          id: 'tenant',
          name: 'tenant',
          required: true,
          autocomplete: 'organization',
          pattern: '[a-z0-9][a-z0-9\\-]{0,62}',
          value: tenant,
          spellcheck: 'false',
        }),
        h('button', { type: 'submit' }, 'Sign in'),
      ),
    ),
  );
}

export function renderRefused(app: HTMLElement): void {
  clear(app);
  document.title = 'Not allowed · vaultgate console';
  app.append(
    h(
      'main',
      { id: 'main', class: 'narrow' },
      h('h1', {}, 'This account cannot use the console'),
      h(
        'p',
        { role: 'alert' },
        'The security console is for administrators, operators and auditors. Your account does not have one of these roles, so you were not signed in.',
      ),
      h('p', {}, h('a', { href: '/console/' }, 'Sign in with another account')),
    ),
  );
}
