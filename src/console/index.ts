// The security console (docs/contract.md §11): a backend for frontend. The server signs the user
// in as a confidential FAPI 2.0 client of the platform's own authorization server, keeps the tokens,
// and relays the page's data calls to the public API with them; the browser holds only a session
// cookie. See docs/console/README.md for the design.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { PlatformSecrets } from '../crypto/platform-secrets.js';
import type { Identity } from '../identity/index.js';
import type { Sql } from '../storage/types.js';
import { loadConsoleAssets } from './assets.js';
import { createConsoleClients } from './console-clients.js';
import { createLoopback } from './loopback.js';
import { createOAuth } from './oauth.js';
import { registerDataRoutes } from './data-routes.js';
import type { ConsoleContext } from './http.js';
import { registerPageRoutes } from './page-routes.js';
import { registerSignInRoutes } from './signin-routes.js';
import { createSessionStore } from './sessions.js';

const SESSION_KEY_SECRET = 'console-session-key';

export interface ConsoleDeps {
  db: Sql;
  secrets: PlatformSecrets;
  identity: Pick<Identity, 'clients' | 'users'>;
  issuer: string;
  hsts: boolean;
  logger: { warn(obj: object, msg: string): void };
}

export function registerConsole(app: FastifyInstance, deps: ConsoleDeps): void {
  const loopback = createLoopback(app);
  const clients = createConsoleClients({ db: deps.db, secrets: deps.secrets, clients: deps.identity.clients, issuer: deps.issuer });
  // The sessions' sealing key: a platform secret (sealed under the master key), the same on every node.
  let key: Promise<Buffer> | undefined;
  const sessionKey = () => {
    key ??= deps.secrets.getOrCreate(SESSION_KEY_SECRET, () => randomBytes(32).toString('base64')).then((k) => Buffer.from(k, 'base64'));
    key.catch(() => (key = undefined));
    return key;
  };
  const sessions = createSessionStore({ db: deps.db, key: sessionKey });
  const sweeper = setInterval(() => {
    sessions
      .sweep()
      .catch((err: unknown) =>
        deps.logger.warn(
          { event: 'console.sweep_failed', error: (err as Error | undefined)?.name ?? 'Error' },
          'console sessions: sweep failed',
        ),
      );
  }, 60_000);
  sweeper.unref();
  app.addHook('onClose', async () => clearInterval(sweeper));
  const context: ConsoleContext = {
    app,
    issuer: deps.issuer,
    hsts: deps.hsts,
    assets: loadConsoleAssets(),
    sessions,
    clients,
    oauth: createOAuth({ issuer: deps.issuer, loopback, clients }),
    loopback,
    users: deps.identity.users,
    logger: deps.logger,
  };
  registerPageRoutes(context);
  registerSignInRoutes(context);
  registerDataRoutes(context);
}
