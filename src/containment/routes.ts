// Freeze and unfreeze (issue 14, item 7): an account (scope accounts:freeze: operators and admins
// of its tenant), and all of a tenant's money (admin:clients; a tenant's own admins, or the
// platform's for any tenant).
import Type from 'typebox';
import { AppError } from '../errors.js';
import { defineRoute, type ApiRoute } from '../gateway/route-table.js';
import { IdParams, problemResponses, Strict } from '../gateway/schemas.js';
import { confinedCustomer } from '../lib/ownership.js';
import type { Principal } from '../lib/principal.js';
import type { Freezes } from './freeze.js';
import { auditContext } from '../lib/audit-context.js';

const reason = Type.String({ minLength: 1, maxLength: 500 });
const accountFreezeSchema = Strict({ id: Type.String(), frozen: Type.Boolean() });
const tenantFreezeSchema = Strict({ id: Type.String(), name: Type.String(), money_frozen: Type.Boolean() });

export function containmentRoutes(freezes: Freezes, seesAllTenants: (p: Principal) => Promise<boolean>): ApiRoute[] {
  const account = (frozen: boolean) =>
    defineRoute({
      method: 'POST',
      url: frozen ? '/v1/accounts/:id/freeze' : '/v1/accounts/:id/unfreeze',
      tag: 'accounts',
      summary: frozen ? 'Freeze an account: no debit, hold or capture until it is unfrozen' : 'Unfreeze an account',
      permission: 'accounts:freeze',
      operationId: frozen ? 'account.freeze' : 'account.unfreeze',
      rateLimit: 'write',
      schema: {
        params: IdParams('acc'),
        body: Strict(frozen ? { reason } : { reason: Type.Optional(reason) }),
        response: { 200: accountFreezeSchema, ...problemResponses },
      },
      async handler({ principal, params, body, request }) {
        if (confinedCustomer(principal) !== undefined) throw new AppError('insufficient_scope');
        const why = (body as { reason?: string }).reason;
        if (frozen) await freezes.freezeAccount(principal.tenantId, params.id, why as string, auditContext(principal, request));
        else await freezes.unfreezeAccount(principal.tenantId, params.id, why, auditContext(principal, request));
        return { status: 200, body: { id: params.id, frozen } };
      },
    });
  const tenant = (frozen: boolean) =>
    defineRoute({
      method: 'POST',
      url: frozen ? '/v1/admin/tenants/:id/freeze' : '/v1/admin/tenants/:id/unfreeze',
      tag: 'admin',
      summary: frozen ? "Freeze all of a tenant's money, on every node at once" : "Unfreeze a tenant's money",
      permission: 'admin:clients',
      operationId: frozen ? 'admin.tenant_freeze' : 'admin.tenant_unfreeze',
      rateLimit: 'admin',
      schema: {
        params: IdParams('ten'),
        body: Strict(frozen ? { reason } : { reason: Type.Optional(reason) }),
        response: { 200: tenantFreezeSchema, ...problemResponses },
      },
      async handler({ principal, params, body, request }) {
        // Another tenant's: not found, as if it did not exist (docs/contract.md §4).
        if (params.id !== principal.tenantId && !(await seesAllTenants(principal))) throw new AppError('not_found', 'Tenant not found');
        const why = (body as { reason?: string }).reason;
        const row = frozen
          ? await freezes.freezeTenant(params.id, why as string, auditContext(principal, request))
          : await freezes.unfreezeTenant(params.id, why, auditContext(principal, request));
        return { status: 200, body: { id: row.id, name: row.name, money_frozen: frozen } };
      },
    });
  return [account(true), account(false), tenant(true), tenant(false)];
}
