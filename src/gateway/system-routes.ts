// Public routes outside the API table: health, readiness, the OpenAPI document and its page.
// They carry `config.policy = 'public'`; any other route without a policy fails the start.
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';
import { DOCS_CSP, renderDocsPage } from './docs-page.js';
import { sendProblem } from './problem-handlers.js';

export function registerSystemRoutes(app: FastifyInstance, deps: { ping(): Promise<void> }): void {
  const publicRoute = { config: { policy: 'public' as const } };
  const hidden = { hide: true };

  app.get('/healthz', { ...publicRoute, schema: hidden }, async () => ({ status: 'ok' }));

  app.get('/readyz', { ...publicRoute, schema: hidden }, async (_request, reply) => {
    try {
      await deps.ping();
    } catch {
      return sendProblem(reply, new AppError('service_unavailable', 'The database is not reachable'));
    }
    return { status: 'ready' };
  });

  let openapi: string | undefined;
  let docs: string | undefined;
  app.get('/openapi.json', { ...publicRoute, schema: hidden }, async (_request, reply) => {
    openapi ??= JSON.stringify(app.swagger());
    return reply.type('application/json').header('Cache-Control', 'no-cache').send(openapi);
  });
  app.get('/docs', { ...publicRoute, schema: hidden }, async (_request, reply) => {
    docs ??= renderDocsPage(app.swagger() as never);
    return reply
      .type('text/html; charset=utf-8')
      .header('Content-Security-Policy', DOCS_CSP)
      .header('Cache-Control', 'no-cache')
      .send(docs);
  });
}
