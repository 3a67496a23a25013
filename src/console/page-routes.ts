// The console's page and its assets. The page routes itself in the browser; the server knows
// the page names, and answers every one of them with the same document.
import type { FastifyReply } from 'fastify';
import { CONSOLE_CSP, IMMUTABLE } from './assets.js';
import { problem, PUBLIC, type ConsoleContext } from './http.js';

export const PAGES = ['alerts', 'audit', 'clients', 'usage', 'scans', 'keys', 'webhooks', 'users', 'refused'] as const;

export function registerPageRoutes({ app, assets }: Pick<ConsoleContext, 'app' | 'assets'>): void {
  function page(reply: FastifyReply, status = 200) {
    if (!assets.html) return problem(reply, 503, 'service_unavailable', 'The console was not built (npm run build:console)');
    return reply
      .code(status)
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-security-policy', CONSOLE_CSP)
      .send(assets.html);
  }

  app.get('/console', PUBLIC, async (_request, reply) => page(reply));
  app.get('/console/', PUBLIC, async (_request, reply) => page(reply));
  app.get<{ Params: { page: string } }>('/console/:page', PUBLIC, async (request, reply) => {
    const name = PAGES.find((p) => p === request.params.page);
    if (!name) return problem(reply, 404, 'not_found', 'Not found');
    return page(reply, name === 'refused' ? 403 : 200);
  });
  app.get<{ Params: { name: string } }>('/console/assets/:name', PUBLIC, async (request, reply) => {
    const file = assets.asset(request.params.name);
    if (!file) return problem(reply, 404, 'not_found', 'Not found');
    return reply.header('content-type', file.type).header('cache-control', IMMUTABLE).send(file.body);
  });
}
