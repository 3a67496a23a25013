// Admin API (permission admin:clients): OAuth clients — create, list, read, revoke, change scopes —
// and the least-privilege access review. A principal of the platform tenant manages every tenant;
// any other admin only its own tenant (another tenant's client answers 404, CONTRACT §4).
import { AppError } from '../errors.js';
import type { ApiRoute, HandlerContext } from '../gateway/route-table.js';
import { problemResponses } from '../gateway/schemas.js';
import { newClientSchema, scopeListSchema, toCreateClientInput, type NewClientBody } from '../identity/client-input.js';
import type { ClientInfo, Identity } from '../identity/index.js';
import { createPlatformScope } from '../lib/platform-scope.js';
import type { Principal } from '../lib/principal.js';

const idParam = {
  type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', pattern: '^cli_[0-9a-z]{26}$' } },
};

const clientSchema = {
  type: 'object', additionalProperties: false,
  required: ['client_id', 'tenant_id', 'tenant', 'name', 'scopes', 'default_scopes', 'grant_types', 'auth_method', 'fapi', 'binding', 'status', 'created_at'],
  properties: {
    client_id: { type: 'string' }, tenant_id: { type: 'string' }, tenant: { type: 'string' }, name: { type: 'string' },
    scopes: { type: 'array', items: { type: 'string' } },
    default_scopes: { type: 'array', items: { type: 'string' } },
    grant_types: { type: 'array', items: { type: 'string' } },
    auth_method: { type: 'string' }, fapi: { type: 'boolean' }, binding: { type: ['string', 'null'] },
    status: { type: 'string', enum: ['active', 'revoked'] }, created_at: { type: 'string', format: 'date-time' },
  },
};

const createdSchema = {
  type: 'object', additionalProperties: false, required: ['client_id', 'tenant_id', 'scopes'],
  properties: {
    client_id: { type: 'string' }, client_secret: { type: 'string', description: 'Shown once (client_secret_basic only)' },
    tenant_id: { type: 'string' }, scopes: { type: 'array', items: { type: 'string' } },
  },
};

const reviewSchema = {
  type: 'object', additionalProperties: false, required: ['days', 'generated_at', 'clients'],
  properties: {
    days: { type: 'integer' }, generated_at: { type: 'string', format: 'date-time' },
    clients: {
      type: 'array',
      items: {
        type: 'object', additionalProperties: false,
        required: ['client_id', 'tenant', 'name', 'status', 'registered', 'exercised', 'unused', 'idle', 'last_used_at'],
        properties: {
          client_id: { type: 'string' }, tenant: { type: 'string' }, name: { type: 'string' }, status: { type: 'string' },
          registered: { type: 'array', items: { type: 'string' } }, exercised: { type: 'array', items: { type: 'string' } },
          unused: { type: 'array', items: { type: 'string' } }, idle: { type: 'boolean' },
          last_used_at: { type: ['string', 'null'], format: 'date-time' },
        },
      },
    },
  },
};

export function adminRoutes(identity: Pick<Identity, 'clients' | 'usage'>): ApiRoute[] {
  const { clients } = identity;
  const seesAllTenants = createPlatformScope(async (clientId) => clients.get(clientId));

  /** The client, if this principal may manage it; otherwise not_found. */
  async function visible(principal: Principal, id: string): Promise<ClientInfo> {
    const c = await clients.get(id);
    if (!c || (c.tenant_id !== principal.tenantId && !(await seesAllTenants(principal)))) throw new AppError('not_found', 'Client not found');
    return c;
  }

  return [
    {
      method: 'POST', url: '/v1/admin/clients', tag: 'admin', summary: 'Register an OAuth client',
      permission: 'admin:clients', operationId: 'admin.client_create', rateLimit: 'admin',
      schema: {
        // The one definition of a new client (identity/client-input.ts): the CLI and the service check the same.
        body: newClientSchema,
        response: { 201: createdSchema, ...problemResponses },
      },
      async handler({ principal, body }: HandlerContext<NewClientBody>) {
        const own = await clients.get(principal.clientId);
        // Only the platform tenant registers clients for other tenants (and creates tenants).
        if (!(await seesAllTenants(principal)) && own?.tenant !== body.tenant) throw new AppError('forbidden', 'You can register clients only in your own tenant');
        return { status: 201, body: await clients.create(toCreateClientInput(body)) };
      },
    },
    {
      method: 'GET', url: '/v1/admin/clients', tag: 'admin', summary: 'List OAuth clients',
      permission: 'admin:clients', operationId: 'admin.client_list', rateLimit: 'admin',
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        response: { 200: { type: 'object', additionalProperties: false, required: ['data'], properties: { data: { type: 'array', items: clientSchema } } }, ...problemResponses },
      },
      async handler({ principal }) {
        const data = await clients.list((await seesAllTenants(principal)) ? undefined : principal.tenantId);
        return { status: 200, body: { data } };
      },
    },
    {
      method: 'GET', url: '/v1/admin/clients/:id', tag: 'admin', summary: 'Read an OAuth client',
      permission: 'admin:clients', operationId: 'admin.client_read', rateLimit: 'admin',
      schema: { params: idParam, response: { 200: clientSchema, ...problemResponses } },
      async handler({ principal, params }: HandlerContext<unknown, { id: string }>) {
        return { status: 200, body: await visible(principal, params.id) };
      },
    },
    {
      method: 'DELETE', url: '/v1/admin/clients/:id', tag: 'admin', summary: 'Revoke an OAuth client (its tokens stop working at once)',
      permission: 'admin:clients', operationId: 'admin.client_revoke', rateLimit: 'admin',
      schema: { params: idParam, response: { 200: clientSchema, ...problemResponses } },
      async handler({ principal, params }: HandlerContext<unknown, { id: string }>) {
        await visible(principal, params.id);
        await clients.revoke(params.id);
        return { status: 200, body: await visible(principal, params.id) };
      },
    },
    {
      method: 'PUT', url: '/v1/admin/clients/:id/scopes', tag: 'admin', summary: "Replace a client's registered scopes (applies to issued tokens at once)",
      permission: 'admin:clients', operationId: 'admin.client_scopes', rateLimit: 'admin',
      schema: {
        params: idParam,
        body: { type: 'object', additionalProperties: false, required: ['scopes'], properties: { scopes: scopeListSchema(1) } },
        response: { 200: clientSchema, ...problemResponses },
      },
      async handler({ principal, params, body }: HandlerContext<{ scopes: string[] }, { id: string }>) {
        await visible(principal, params.id);
        await clients.setScopes(params.id, body.scopes);
        return { status: 200, body: await visible(principal, params.id) };
      },
    },
    {
      method: 'GET', url: '/v1/admin/access-review', tag: 'admin', summary: 'Least-privilege review: registered versus exercised scopes per client',
      permission: 'admin:clients', operationId: 'admin.access_review', rateLimit: 'admin',
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: { days: { type: 'integer', minimum: 1, maximum: 365, default: 30 } } },
        response: { 200: reviewSchema, ...problemResponses },
      },
      async handler({ principal, query }: HandlerContext<unknown, unknown, { days?: number }>) {
        const all = await seesAllTenants(principal);
        return { status: 200, body: await identity.usage.review(query.days ?? 30, all ? undefined : principal.tenantId) };
      },
    },
  ];
}
