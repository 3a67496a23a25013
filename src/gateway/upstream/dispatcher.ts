// The one route through which requests reach the upstreams: a catch-all that Fastify's router
// tries only after every route of vaultgate's own (static and parametric routes win over a
// wildcard), so no upstream prefix can shadow an internal path. Fastify's routes are fixed once it
// is ready; the upstream table is not (it reloads), so the dispatcher looks the request's route up
// in the table in force, and runs that route's pipeline steps in order, as Fastify would run a
// route's hooks. A request that matches no upstream route gets the answer of the not-found handler
// (404, or 405 with Allow for an internal path), as if the catch-all were not there.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import { markHttp2BodyOfUnknownLength } from '../request-guards.js';
import { DISPATCH_POLICY } from '../route-label.js';
import { HTTP_METHODS } from './config.js';
import type { UpstreamGateway } from './gateway.js';

export function registerUpstreamDispatcher(
  app: FastifyInstance,
  gateway: UpstreamGateway,
  notFound: (request: FastifyRequest) => AppError,
): void {
  app.decorateRequest('upstreamRoute', null);
  void app.register(async (scope) => {
    // The caller's body goes to the upstream as it arrives: nothing here parses it.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

    scope.route({
      method: [...HTTP_METHODS],
      url: '/*',
      schema: { hide: true },
      config: { policy: DISPATCH_POLICY },
      async onRequest(request: FastifyRequest, reply: FastifyReply) {
        const { table, release } = gateway.acquire();
        const route = table.find(request.url);
        if (route === undefined) return release();
        // 'close' comes once the answer is sent or the caller went away: either way, done.
        reply.raw.once('close', release);
        request.upstreamRoute = route;
        if (!route.settings.methods.includes(request.method as never)) {
          throw new AppError('method_not_allowed', undefined, { Allow: route.settings.methods.join(', ') });
        }
        markHttp2BodyOfUnknownLength(request.raw);
        for (const step of route.onRequest) {
          await step.call(this, request, reply);
          if (reply.sent) return;
        }
      },
      async preHandler(request: FastifyRequest, reply: FastifyReply) {
        for (const step of request.upstreamRoute?.preHandler ?? []) {
          await step.call(this, request, reply);
          if (reply.sent) return;
        }
      },
      async handler(request: FastifyRequest, reply: FastifyReply) {
        if (request.upstreamRoute === null) throw notFound(request);
        return request.upstreamRoute.handler(request, reply);
      },
      async onResponse(request: FastifyRequest, reply: FastifyReply) {
        request.upstreamRoute?.onResponse(request, reply);
      },
    });
  });
}
