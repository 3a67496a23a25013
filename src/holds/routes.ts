// Hold routes (docs/contract.md §9). Creating and capturing move money: Idempotency-Key, in the
// request's transaction. A void only releases what was held.
import Type from 'typebox';
import { AppError } from '../errors.js';
import { ListOf, ListQuery, pageSize, toPage } from '../gateway/pagination.js';
import { defineRoute, type ApiRoute } from '../gateway/route-table.js';
import { Id, IdParams, Nullable, problemResponses, StringEnum, Strict } from '../gateway/schemas.js';
import { confinedCustomer } from '../lib/ownership.js';
import type { Principal } from '../lib/principal.js';
import { transferView, type Ledger } from '../ledger/ledger-service.js';
import { amountSchema, currencySchema } from '../ledger/money.js';
import { metadataSchema, transferSchema } from '../ledger/routes.js';
import { HOLD_EXPIRY, holdView, type HoldRow, type Holds } from './hold-service.js';
import { auditContext } from '../lib/audit-context.js';

const holdSchema = Strict({
  id: Type.String(),
  status: StringEnum(['pending', 'captured', 'voided', 'expired']),
  source_account_id: Type.String(),
  destination_account_id: Type.String(),
  amount: Type.Integer(),
  captured_amount: Type.Integer(),
  currency: Type.String(),
  description: Nullable(Type.String()),
  metadata: Type.Unsafe<Record<string, string> | null>({
    anyOf: [{ type: 'object', additionalProperties: { type: 'string' } }, { type: 'null' }],
  }),
  transfer_id: Nullable(Type.String()),
  expires_at: Type.String({ format: 'date-time' }),
  created_at: Type.String({ format: 'date-time' }),
  settled_at: Nullable(Type.String({ format: 'date-time' })),
});

export function holdRoutes(holds: Holds, ledger: Ledger): ApiRoute[] {
  /** An end user sees (and acts on) only holds out of or into its own accounts; any other reads as missing. */
  async function assertVisible(
    principal: Principal,
    hold: Pick<HoldRow, 'source_account_id' | 'destination_account_id'>,
    sourceOnly = false,
  ) {
    const confined = confinedCustomer(principal);
    if (confined === undefined) return;
    const ids = sourceOnly ? [hold.source_account_id] : [hold.source_account_id, hold.destination_account_id];
    const own = await Promise.all(ids.map((id) => ledger.getAccount(principal.tenantId, id)));
    if (!own.some((a) => a?.customer_id === confined)) throw new AppError('not_found', 'Hold not found');
  }

  return [
    defineRoute({
      method: 'POST',
      url: '/v1/holds',
      tag: 'holds',
      summary: 'Hold an amount on the source account (available → pending) for a later capture',
      permission: 'transfers:write',
      operationId: 'hold.create',
      rateLimit: 'money',
      idempotent: true,
      schema: {
        body: Strict({
          source_account_id: Id('acc'),
          destination_account_id: Id('acc'),
          amount: amountSchema,
          currency: currencySchema,
          expires_in_seconds: Type.Optional(Type.Integer({ minimum: HOLD_EXPIRY.min, maximum: HOLD_EXPIRY.max })),
          description: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
          metadata: Type.Optional(metadataSchema),
        }),
        response: { 201: holdSchema, ...problemResponses },
      },
      async handler({ principal, body, tx, request }) {
        // An end user holds money only on its own accounts.
        if (confinedCustomer(principal) !== undefined) {
          const source = await ledger.getAccount(principal.tenantId, body.source_account_id, tx);
          if (!source || source.customer_id !== confinedCustomer(principal)) throw new AppError('not_found', 'Account not found');
        }
        const hold = await holds.create(tx, {
          tenantId: principal.tenantId,
          clientId: principal.clientId,
          sourceId: body.source_account_id,
          destinationId: body.destination_account_id,
          amount: BigInt(body.amount),
          currency: body.currency,
          expiresInSeconds: body.expires_in_seconds ?? HOLD_EXPIRY.default,
          description: body.description,
          metadata: body.metadata,
          context: auditContext(principal, request),
        });
        return { status: 201, body: holdView(hold) };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/holds/:id/capture',
      tag: 'holds',
      summary: 'Capture a pending hold (all of it by default) as a transfer; the rest is released',
      permission: 'transfers:write',
      operationId: 'hold.capture',
      rateLimit: 'money',
      idempotent: true,
      schema: {
        params: IdParams('hold'),
        body: Strict({ amount: Type.Optional(amountSchema) }),
        response: { 201: transferSchema, ...problemResponses },
      },
      async handler({ principal, params, body, tx, request }) {
        const { transfer } = await holds.capture(tx, {
          tenantId: principal.tenantId,
          clientId: principal.clientId,
          holdId: params.id,
          amount: body.amount === undefined ? undefined : BigInt(body.amount),
          context: auditContext(principal, request),
          visible: (hold) => assertVisible(principal, hold, true),
        });
        return { status: 201, body: transferView(transfer) };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/holds/:id/void',
      tag: 'holds',
      summary: 'Void a pending hold: all of it is released',
      permission: 'transfers:write',
      operationId: 'hold.void',
      rateLimit: 'money',
      schema: {
        params: IdParams('hold'),
        body: Strict({ reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })) }),
        response: { 200: holdSchema, ...problemResponses },
      },
      async handler({ principal, params, body, request }) {
        const found = await holds.get(principal.tenantId, params.id);
        if (!found) throw new AppError('not_found', 'Hold not found');
        await assertVisible(principal, found, true);
        const hold = await holds.void({
          tenantId: principal.tenantId,
          clientId: principal.clientId,
          holdId: params.id,
          reason: body.reason,
          context: auditContext(principal, request),
        });
        return { status: 200, body: holdView(hold) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/holds/:id',
      tag: 'holds',
      summary: 'Read a hold',
      permission: 'transfers:read',
      operationId: 'hold.read',
      rateLimit: 'read',
      schema: { params: IdParams('hold'), response: { 200: holdSchema, ...problemResponses } },
      async handler({ principal, params }) {
        const hold = await holds.get(principal.tenantId, params.id);
        if (!hold) throw new AppError('not_found', 'Hold not found');
        await assertVisible(principal, hold);
        return { status: 200, body: holdView(hold) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/holds',
      tag: 'holds',
      summary: 'List the holds of one account (as source or destination)',
      permission: 'transfers:read',
      operationId: 'hold.list',
      rateLimit: 'read',
      schema: {
        querystring: Strict({ ...ListQuery, account_id: Id('acc') }),
        response: { 200: ListOf(holdSchema), ...problemResponses },
      },
      async handler({ principal, query }) {
        const account = await ledger.getAccount(principal.tenantId, query.account_id);
        const confined = confinedCustomer(principal);
        if (!account || (confined !== undefined && account.customer_id !== confined)) throw new AppError('not_found', 'Account not found');
        const limit = pageSize(query);
        const rows = await holds.listForAccount(principal.tenantId, query.account_id, limit, query.starting_after);
        return { status: 200, body: toPage(rows.map(holdView), limit) };
      },
    }),
  ];
}
