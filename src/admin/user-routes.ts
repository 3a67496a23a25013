// End users over the API (docs/contract.md §5), what `vaultgate users set-role|disable|reset-mfa`
// do from a shell, for a principal's own tenant: list (no personal data; one user by e-mail with
// `?email=`), change a role, disable, reset the second factor. Each change ends the user's
// sessions and applies to its tokens at once, and is audited with who made it. Nobody changes
// their own account here (an admin cannot lock itself out by a click).
import Type from 'typebox';
import { AppError } from '../errors.js';
import { ListOf, ListQuery, pageSize, toPage } from '../gateway/pagination.js';
import { defineRoute, type ApiRoute } from '../gateway/route-table.js';
import { Id, Nullable, problemResponses, StringEnum, Strict } from '../gateway/schemas.js';
import { auditContext } from '../lib/audit-context.js';
import type { Principal } from '../lib/principal.js';
import { ROLES } from '../lib/roles.js';
import type { UserAdmin } from '../users/user-admin.js';

const userSchema = Strict({
  id: Type.String(),
  role: StringEnum(ROLES),
  status: StringEnum(['active', 'disabled']),
  customer_id: Nullable(Type.String()),
  mfa: StringEnum(['enrolled', 'none']),
  created_at: Type.String({ format: 'date-time' }),
});

const changeSchema = Strict({
  user_id: Type.String(),
  tenant_id: Type.String(),
  role: StringEnum(ROLES),
  status: StringEnum(['active', 'disabled']),
  enrolment_code: Type.Optional(Type.String({ description: 'Shown once: the user enrols a second factor with it' })),
  enrolment_code_expires_at: Type.Optional(Type.String({ format: 'date-time' })),
});

const userParams = Strict({ id: Id('usr') });

export function userRoutes(users: UserAdmin): ApiRoute[] {
  /** The user the request names, in the principal's tenant, never the principal itself. */
  function target(principal: Principal, id: string) {
    if (principal.userId === id) throw new AppError('conflict', 'You cannot change your own account here');
    return { tenantId: principal.tenantId, id };
  }

  return [
    defineRoute({
      method: 'GET',
      url: '/v1/admin/users',
      tag: 'admin',
      summary: "The tenant's end users (role, status, second factor); `email` finds one",
      permission: 'admin:users',
      operationId: 'user.list',
      rateLimit: 'admin',
      schema: {
        querystring: Strict({ ...ListQuery, email: Type.Optional(Type.String({ minLength: 3, maxLength: 320 })) }),
        response: { 200: ListOf(userSchema), ...problemResponses },
      },
      async handler({ principal, query }) {
        const limit = pageSize(query);
        const rows = await users.list(principal.tenantId, { limit, startingAfter: query.starting_after, email: query.email });
        return { status: 200, body: toPage(rows, limit) };
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/v1/admin/users/:id/role',
      tag: 'admin',
      summary: 'Change a user’s role (a demotion applies to its tokens at once)',
      permission: 'admin:users',
      operationId: 'user.set_role',
      rateLimit: 'admin',
      schema: { params: userParams, body: Strict({ role: StringEnum(ROLES) }), response: { 200: changeSchema, ...problemResponses } },
      async handler({ principal, params, body, request }) {
        return { status: 200, body: await users.setRole(target(principal, params.id), body.role, auditContext(principal, request)) };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/admin/users/:id/disable',
      tag: 'admin',
      summary: 'Disable a user: it cannot sign in, and its tokens stop at once',
      permission: 'admin:users',
      operationId: 'user.disable',
      rateLimit: 'admin',
      schema: { params: userParams, body: Strict({}), response: { 200: changeSchema, ...problemResponses } },
      async handler({ principal, params, request }) {
        return { status: 200, body: await users.disable(target(principal, params.id), auditContext(principal, request)) };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/admin/users/:id/reset-mfa',
      tag: 'admin',
      summary: 'Remove a user’s second factor and recovery codes; a new one-time enrolment code is returned once',
      permission: 'admin:users',
      operationId: 'user.reset_mfa',
      rateLimit: 'admin',
      schema: { params: userParams, body: Strict({}), response: { 200: changeSchema, ...problemResponses } },
      async handler({ principal, params, request }) {
        return { status: 200, body: await users.resetMfa(target(principal, params.id), auditContext(principal, request)) };
      },
    }),
  ];
}
