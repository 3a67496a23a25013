// Admin API (permission admin:clients): OAuth clients — create, list, read, revoke, change scopes —
// and the least-privilege access review. A principal of the platform tenant manages every tenant;
// any other admin only its own tenant (another tenant's client answers 404, CONTRACT §4).
import Type from 'typebox';
import { AppError } from '../errors.js';
import { defineRoute, type ApiRoute } from '../gateway/route-table.js';
import { IdParams, Nullable, problemResponses, StringEnum, Strict } from '../gateway/schemas.js';
import { toCreateClientInput } from '../identity/client-input.js';
import type { ClientInfo, Identity } from '../identity/index.js';
import { createPlatformScope } from '../lib/platform-scope.js';
import type { Principal } from '../lib/principal.js';

const idParams = IdParams('cli');
const strings = Type.Array(Type.String());

const clientSchema = Strict({
  client_id: Type.String(),
  tenant_id: Type.String(),
  tenant: Type.String(),
  name: Type.String(),
  scopes: strings,
  default_scopes: strings,
  grant_types: strings,
  auth_method: Type.String(),
  fapi: Type.Boolean(),
  binding: Nullable(Type.String()),
  status: StringEnum(['active', 'revoked']),
  created_at: Type.String({ format: 'date-time' }),
});

const createdSchema = Strict({
  client_id: Type.String(),
  client_secret: Type.Optional(Type.String({ description: 'Shown once (client_secret_basic only)' })),
  tenant_id: Type.String(),
  scopes: strings,
});

const reviewSchema = Strict({
  days: Type.Integer(),
  generated_at: Type.String({ format: 'date-time' }),
  clients: Type.Array(
    Strict({
      client_id: Type.String(),
      tenant: Type.String(),
      name: Type.String(),
      status: StringEnum(['active', 'revoked']),
      registered: strings,
      exercised: strings,
      unused: strings,
      idle: Type.Boolean(),
      last_used_at: Nullable(Type.String({ format: 'date-time' })),
    }),
  ),
});

export function adminRoutes(identity: Pick<Identity, 'clients' | 'usage' | 'clientRules'>): ApiRoute[] {
  const { clients } = identity;
  // The scopes registrable here include those the gateway's routes name.
  const { newClientSchema, scopeListSchema } = identity.clientRules;
  const seesAllTenants = createPlatformScope(async (clientId) => clients.get(clientId));

  /** The client, if this principal may manage it; otherwise not_found. */
  async function visible(principal: Principal, id: string): Promise<ClientInfo> {
    const c = await clients.get(id);
    if (!c || (c.tenant_id !== principal.tenantId && !(await seesAllTenants(principal))))
      throw new AppError('not_found', 'Client not found');
    return c;
  }

  return [
    defineRoute({
      method: 'POST',
      url: '/v1/admin/clients',
      tag: 'admin',
      summary: 'Register an OAuth client',
      permission: 'admin:clients',
      operationId: 'admin.client_create',
      rateLimit: 'admin',
      schema: {
        // The one definition of a new client (identity/client-input.ts): the CLI and the service check the same.
        body: newClientSchema,
        response: { 201: createdSchema, ...problemResponses },
      },
      async handler({ principal, body }) {
        const own = await clients.get(principal.clientId);
        // Only the platform tenant registers clients for other tenants (and creates tenants).
        if (!(await seesAllTenants(principal)) && own?.tenant !== body.tenant)
          throw new AppError('forbidden', 'You can register clients only in your own tenant');
        return { status: 201, body: await clients.create(toCreateClientInput(body)) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/admin/clients',
      tag: 'admin',
      summary: 'List OAuth clients',
      permission: 'admin:clients',
      operationId: 'admin.client_list',
      rateLimit: 'admin',
      schema: {
        querystring: Strict({}),
        response: { 200: Strict({ data: Type.Array(clientSchema) }), ...problemResponses },
      },
      async handler({ principal }) {
        const data = await clients.list((await seesAllTenants(principal)) ? undefined : principal.tenantId);
        return { status: 200, body: { data } };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/admin/clients/:id',
      tag: 'admin',
      summary: 'Read an OAuth client',
      permission: 'admin:clients',
      operationId: 'admin.client_read',
      rateLimit: 'admin',
      schema: { params: idParams, response: { 200: clientSchema, ...problemResponses } },
      async handler({ principal, params }) {
        return { status: 200, body: await visible(principal, params.id) };
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/v1/admin/clients/:id',
      tag: 'admin',
      summary: 'Revoke an OAuth client (its tokens stop working at once)',
      permission: 'admin:clients',
      operationId: 'admin.client_revoke',
      rateLimit: 'admin',
      schema: { params: idParams, response: { 200: clientSchema, ...problemResponses } },
      async handler({ principal, params }) {
        await visible(principal, params.id);
        await clients.revoke(params.id);
        return { status: 200, body: await visible(principal, params.id) };
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/v1/admin/clients/:id/scopes',
      tag: 'admin',
      summary: "Replace a client's registered scopes (applies to issued tokens at once)",
      permission: 'admin:clients',
      operationId: 'admin.client_scopes',
      rateLimit: 'admin',
      schema: {
        params: idParams,
        body: Strict({ scopes: scopeListSchema(1) }),
        response: { 200: clientSchema, ...problemResponses },
      },
      async handler({ principal, params, body }) {
        await visible(principal, params.id);
        await clients.setScopes(params.id, body.scopes);
        return { status: 200, body: await visible(principal, params.id) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/admin/access-review',
      tag: 'admin',
      summary: 'Least-privilege review: registered versus exercised scopes per client',
      permission: 'admin:clients',
      operationId: 'admin.access_review',
      rateLimit: 'admin',
      schema: {
        querystring: Strict({ days: Type.Optional(Type.Integer({ minimum: 1, maximum: 365, default: 30 })) }),
        response: { 200: reviewSchema, ...problemResponses },
      },
      async handler({ principal, query }) {
        const all = await seesAllTenants(principal);
        return { status: 200, body: await identity.usage.review(query.days ?? 30, all ? undefined : principal.tenantId) };
      },
    }),
  ];
}
