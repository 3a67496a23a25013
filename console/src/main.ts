// The console's page: the shell (header, navigation, sign-out) and the page the path names.
// Every page is a full page load (plain links: the browser's own history and keyboard handling);
// the server answers every console path with this document.
import { loadSession, signOut, type SessionInfo } from './api.js';
import { clear, h } from './dom.js';
import { renderAlerts } from './pages/alerts.js';
import { renderAudit } from './pages/audit.js';
import { renderClients } from './pages/clients.js';
import { renderKeys } from './pages/keys.js';
import { renderOverview } from './pages/overview.js';
import { renderScans } from './pages/scans.js';
import { renderUsage } from './pages/usage.js';
import { renderUsers } from './pages/users.js';
import { renderWebhooks } from './pages/webhooks.js';
import { renderRefused, renderSignIn } from './pages/signin.js';

export interface PageDef {
  path: string;
  title: string;
  /** The permission the page's data needs; without it the page is shown as unavailable. */
  needs: string;
  render(main: HTMLElement, session: SessionInfo): Promise<void> | void;
}

const PAGES: PageDef[] = [
  { path: '/console/', title: 'Overview', needs: 'alerts:read', render: renderOverview },
  { path: '/console/alerts', title: 'Alerts', needs: 'alerts:read', render: renderAlerts },
  { path: '/console/audit', title: 'Audit log', needs: 'audit:read', render: renderAudit },
  { path: '/console/clients', title: 'Clients', needs: 'admin:clients', render: renderClients },
  { path: '/console/usage', title: 'Usage', needs: 'analytics:read', render: renderUsage },
  { path: '/console/scans', title: 'Security scans', needs: 'audit:read', render: renderScans },
  { path: '/console/keys', title: 'Keys', needs: 'admin:keys', render: renderKeys },
  { path: '/console/webhooks', title: 'Webhooks', needs: 'webhooks:manage', render: renderWebhooks },
  { path: '/console/users', title: 'Users', needs: 'admin:users', render: renderUsers },
];

const ROLE_NAMES: Record<string, string> = { admin: 'Administrator', operator: 'Operator', auditor: 'Auditor' };

function nav(session: SessionInfo, current: PageDef | undefined): HTMLElement {
  return h(
    'nav',
    { 'aria-label': 'Console' },
    h(
      'ul',
      {},
      ...PAGES.map((p) => {
        if (!session.scopes.includes(p.needs)) {
          // What the role cannot do is shown, not hidden: disabled, with the reason.
          return h(
            'li',
            {},
            h(
              'span',
              { class: 'disabled', 'aria-disabled': 'true', title: `Needs ${p.needs}` },
              p.title,
              h('span', { class: 'why' }, ` (needs ${p.needs})`),
            ),
          );
        }
        return h('li', {}, h('a', { href: p.path, 'aria-current': p === current ? 'page' : undefined }, p.title));
      }),
    ),
  );
}

function header(session: SessionInfo): HTMLElement {
  const out = h('button', { type: 'button', class: 'secondary', id: 'sign-out' }, 'Sign out');
  out.addEventListener('click', () => {
    out.disabled = true;
    signOut()
      .then(() => location.assign('/console/?signed_out=1'))
      .catch(() => location.assign('/console/?error=session_ended'));
  });
  return h(
    'header',
    { class: 'top' },
    h('p', { class: 'brand' }, 'vaultgate', h('span', {}, ' security console')),
    h('p', { class: 'who' }, `${ROLE_NAMES[session.role] ?? session.role} · tenant `, h('strong', {}, session.tenant)),
    out,
  );
}

async function start(): Promise<void> {
  const app = document.getElementById('app')!;
  const path = location.pathname === '/console' ? '/console/' : location.pathname;
  if (path === '/console/refused') return renderRefused(app);
  const session = await loadSession();
  if (!session) return renderSignIn(app, new URLSearchParams(location.search));

  const page = PAGES.find((p) => p.path === path);
  const main = h('main', { id: 'main', tabindex: '-1' });
  clear(app);
  app.append(header(session), nav(session, page), main);
  const title = page?.title ?? 'Not found';
  document.title = `${title} · vaultgate console`;
  main.append(h('h1', {}, title));
  if (!page) {
    main.append(h('p', {}, 'No such page.'));
    return;
  }
  if (!session.scopes.includes(page.needs)) {
    main.append(
      h(
        'p',
        { class: 'notice', role: 'status' },
        `Your role (${session.role}) cannot open this page: it needs the ${page.needs} permission.`,
      ),
    );
    return;
  }
  await page.render(main, session);
}

start().catch(() => {
  const app = document.getElementById('app')!;
  clear(app);
  app.append(
    h(
      'main',
      { id: 'main' },
      h('h1', {}, 'Console unavailable'),
      h('p', { role: 'alert' }, 'Something went wrong. Reload the page to try again.'),
    ),
  );
});
