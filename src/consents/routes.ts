// Consent routes (docs/contract.md §10): a customer lists its payment consents and revokes one it
// has not used; a revocation ends the grant (the app's tokens stop at once). A principal of the
// tenant with the scope (a back-office service) sees and revokes the tenant's.
import Type from 'typebox';
import { ListOf, ListQuery, pageSize, toPage } from '../gateway/pagination.js';
import { defineRoute, type ApiRoute } from '../gateway/route-table.js';
import { Id, Nullable, problemResponses, StringEnum, Strict } from '../gateway/schemas.js';
import { auditContext } from '../lib/audit-context.js';
import { consentView, type Consents } from './consent-service.js';

const consentSchema = Strict({
  id: Type.String(),
  type: StringEnum(['payment_initiation']),
  status: StringEnum(['authorised', 'consumed', 'revoked', 'expired']),
  client_id: Type.String(),
  instructed_amount: Strict({ currency: Type.String(), amount: Type.String({ description: 'Decimal, in the currency’s exponent' }) }),
  creditor_account_id: Type.String(),
  debtor_account_id: Nullable(Type.String()),
  transfer_id: Nullable(Type.String({ description: 'The transfer that used the consent' })),
  created_at: Type.String({ format: 'date-time' }),
  expires_at: Type.String({ format: 'date-time' }),
  settled_at: Nullable(Type.String({ format: 'date-time', description: 'When it was used, revoked or expired' })),
});

const consentParams = Strict({ id: Id('con') });

export function consentRoutes(consents: Consents): ApiRoute[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/consents',
      tag: 'consents',
      summary: 'Payment consents: a customer its own, a service of the tenant all of them',
      permission: 'consents:read',
      operationId: 'consent.list',
      rateLimit: 'read',
      schema: { querystring: Strict(ListQuery), response: { 200: ListOf(consentSchema), ...problemResponses } },
      async handler({ principal, query }) {
        const limit = pageSize(query);
        const rows = await consents.list(principal, limit, query.starting_after);
        return { status: 200, body: toPage(rows.map(consentView), limit) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/consents/:id',
      tag: 'consents',
      summary: 'One payment consent',
      permission: 'consents:read',
      operationId: 'consent.read',
      rateLimit: 'read',
      schema: { params: consentParams, response: { 200: consentSchema, ...problemResponses } },
      async handler({ principal, params }) {
        return { status: 200, body: consentView(await consents.get(principal, params.id)) };
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/v1/consents/:id',
      tag: 'consents',
      summary: 'Revoke a payment consent not yet used: its grant ends, and the app’s tokens with it',
      permission: 'consents:write',
      operationId: 'consent.revoke',
      rateLimit: 'write',
      schema: { params: consentParams, response: { 200: consentSchema, ...problemResponses } },
      async handler({ principal, params, request }) {
        const revoked = await consents.revoke(principal, params.id, auditContext(principal, request));
        return { status: 200, body: consentView(revoked) };
      },
    }),
  ];
}
