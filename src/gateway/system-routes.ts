// Public routes outside the API table: health, readiness, the OpenAPI document and its page.
// They carry `config.policy = 'public'`; any other route without a policy fails the start.
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';
import { DOCS_CSP, renderDocsPage } from './docs-page.js';
import { sendProblem } from './problem-handlers.js';

export interface SystemRouteDeps {
  ping(): Promise<void>;
  /** The OpenAPI document; `version` changes whenever the document does (a gateway reload). */
  openapi(): { version: number; document: object };
  /** The receipt keys' public JWK Set (docs/contract.md §10), every key ever used included. */
  receiptKeys?: (() => Promise<object>) | undefined;
}

export function registerSystemRoutes(app: FastifyInstance, deps: SystemRouteDeps): void {
  const publicRoute = { config: { policy: 'public' as const } };
  const hidden = { hide: true };

  app.get('/healthz', { ...publicRoute, schema: hidden }, async () => ({ status: 'ok' }));

  const receiptKeys = deps.receiptKeys;
  if (receiptKeys) {
    app.get('/.well-known/receipt-keys', { ...publicRoute, schema: hidden }, async (_request, reply) =>
      reply
        .type('application/jwk-set+json')
        .header('Cache-Control', 'max-age=300')
        .send(JSON.stringify(await receiptKeys())),
    );
  }

  app.get('/readyz', { ...publicRoute, schema: hidden }, async (_request, reply) => {
    try {
      await deps.ping();
    } catch {
      return sendProblem(reply, new AppError('service_unavailable', 'The database is not reachable'));
    }
    return { status: 'ready' };
  });

  // Rendered once per version of the document, not per request.
  let openapi: { version: number; text: string } | undefined;
  let docs: { version: number; text: string } | undefined;
  app.get('/openapi.json', { ...publicRoute, schema: hidden }, async (_request, reply) => {
    const { version, document } = deps.openapi();
    if (openapi?.version !== version) openapi = { version, text: JSON.stringify(document) };
    return reply.type('application/json').header('Cache-Control', 'no-cache').send(openapi.text);
  });
  app.get('/docs', { ...publicRoute, schema: hidden }, async (_request, reply) => {
    const { version, document } = deps.openapi();
    if (docs?.version !== version) docs = { version, text: renderDocsPage(document) };
    return reply
      .type('text/html; charset=utf-8')
      .header('Content-Security-Policy', DOCS_CSP)
      .header('Cache-Control', 'no-cache')
      .send(docs.text);
  });
}
