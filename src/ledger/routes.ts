// Ledger routes: accounts, entries, deposits, transfers and their reversals.
import Type from 'typebox';
import { AppError } from '../errors.js';
import { ListOf, ListQuery, pageSize, toPage } from '../gateway/pagination.js';
import { defineRoute, type ApiRoute } from '../gateway/route-table.js';
import { Id, IdParams, Nullable, problemResponses, StringEnum, Strict } from '../gateway/schemas.js';
import { assertOwner, confinedCustomer } from '../lib/ownership.js';
import type { Principal } from '../lib/principal.js';
import { accountView, entryView, transferView, type Ledger } from './ledger-service.js';
import { amountSchema, currencySchema } from './money.js';
import { reverseTransfer } from './reversals.js';
import { auditContext } from '../lib/audit-context.js';
import type { Consents } from '../consents/consent-service.js';

const accountSchema = Strict({
  id: Type.String(),
  customer_id: Nullable(Type.String()),
  kind: StringEnum(['customer', 'settlement']),
  currency: Type.String(),
  balance: Strict({ available: Type.Integer(), pending: Type.Integer() }),
  status: StringEnum(['open', 'closed']),
  frozen: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
});

/** Free-form string pairs a caller attaches to a transfer; bounded so it cannot be a storage lever. */
export const metadataSchema = Type.Unsafe<Record<string, string>>({
  type: 'object',
  maxProperties: 20,
  propertyNames: { pattern: '^[A-Za-z0-9_.-]{1,40}$' },
  additionalProperties: { type: 'string', maxLength: 500 },
});

export const transferSchema = Strict({
  id: Type.String(),
  kind: StringEnum(['transfer', 'deposit', 'reversal']),
  status: StringEnum(['posted']),
  source_account_id: Type.String(),
  destination_account_id: Type.String(),
  amount: Type.Integer(),
  currency: Type.String(),
  description: Nullable(Type.String()),
  reference: Nullable(Type.String()),
  metadata: Type.Unsafe<Record<string, string> | null>({
    anyOf: [{ type: 'object', additionalProperties: { type: 'string' } }, { type: 'null' }],
  }),
  reversal_of: Nullable(Type.String({ description: 'The transfer a reversal reverses; null for every other kind' })),
  created_at: Type.String({ format: 'date-time' }),
});

const entrySchema = Strict({
  id: Type.String(),
  transfer_id: Type.String(),
  account_id: Type.String(),
  amount: Type.Integer({ description: 'Signed: negative for a debit' }),
  currency: Type.String(),
  balance_after: Type.Integer(),
  created_at: Type.String({ format: 'date-time' }),
});

interface CustomerCheck {
  exists(tenantId: string, id: string): Promise<'active' | 'erased' | undefined>;
}

export function ledgerRoutes(ledger: Ledger, customers: CustomerCheck, consents: Consents): ApiRoute[] {
  /** The account, if this principal may see it; otherwise not_found (docs/contract.md §4). */
  async function visibleAccount(principal: Principal, id: string) {
    const account = await ledger.getAccount(principal.tenantId, id);
    if (!account) throw new AppError('not_found', 'Account not found');
    assertOwner(principal, account.customer_id);
    return account;
  }

  return [
    defineRoute({
      method: 'POST',
      url: '/v1/accounts',
      tag: 'accounts',
      summary: 'Open an account for a customer',
      permission: 'accounts:write',
      operationId: 'account.create',
      rateLimit: 'write',
      schema: {
        body: Strict({ customer_id: Id('cus'), currency: currencySchema }),
        response: { 201: accountSchema, ...problemResponses },
      },
      async handler({ principal, body, request }) {
        if (confinedCustomer(principal) !== undefined) throw new AppError('insufficient_scope');
        const status = await customers.exists(principal.tenantId, body.customer_id);
        if (status === undefined) throw new AppError('not_found', 'Customer not found');
        if (status === 'erased') throw new AppError('customer_erased');
        const account = await ledger.createAccount(principal.tenantId, body.customer_id, body.currency, auditContext(principal, request));
        return { status: 201, body: accountView(account) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/accounts/:id',
      tag: 'accounts',
      summary: 'Read an account and its balance',
      permission: 'accounts:read',
      operationId: 'account.read',
      rateLimit: 'read',
      schema: { params: IdParams('acc'), response: { 200: accountSchema, ...problemResponses } },
      async handler({ principal, params }) {
        return { status: 200, body: accountView(await visibleAccount(principal, params.id)) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/accounts',
      tag: 'accounts',
      summary: "List a tenant's (or one customer's) accounts",
      permission: 'accounts:read',
      operationId: 'account.list',
      rateLimit: 'read',
      schema: {
        querystring: Strict({ ...ListQuery, customer_id: Type.Optional(Id('cus')) }),
        response: { 200: ListOf(accountSchema), ...problemResponses },
      },
      async handler({ principal, query }) {
        const confined = confinedCustomer(principal);
        if (confined !== undefined && query.customer_id !== undefined && query.customer_id !== confined) {
          return { status: 200, body: { data: [], has_more: false, next_cursor: null } };
        }
        const limit = pageSize(query);
        const rows = await ledger.listAccounts(principal.tenantId, confined ?? query.customer_id, limit, query.starting_after);
        return { status: 200, body: toPage(rows.map(accountView), limit) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/accounts/:id/entries',
      tag: 'accounts',
      summary: "An account's ledger lines, oldest first",
      permission: 'accounts:read',
      operationId: 'account.entries',
      rateLimit: 'read',
      schema: {
        params: IdParams('acc'),
        querystring: Strict(ListQuery),
        response: { 200: ListOf(entrySchema), ...problemResponses },
      },
      async handler({ principal, params, query }) {
        const account = await visibleAccount(principal, params.id);
        const limit = pageSize(query);
        const rows = await ledger.listEntries(account.id, limit, query.starting_after);
        return { status: 200, body: toPage(rows.map(entryView), limit) };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/deposits',
      tag: 'transfers',
      summary: "Money in, from the tenant's settlement account",
      permission: 'ledger:fund',
      operationId: 'deposit.create',
      rateLimit: 'money',
      idempotent: true,
      schema: {
        body: Strict({
          account_id: Id('acc'),
          amount: amountSchema,
          currency: currencySchema,
          reference: Type.String({ minLength: 1, maxLength: 140 }),
        }),
        response: { 201: transferSchema, ...problemResponses },
      },
      async handler({ principal, body, tx, request }) {
        if (confinedCustomer(principal) !== undefined) throw new AppError('insufficient_scope');
        const transfer = await ledger.deposit(tx, {
          tenantId: principal.tenantId,
          clientId: principal.clientId,
          destinationId: body.account_id,
          amount: BigInt(body.amount),
          currency: body.currency,
          reference: body.reference,
          context: auditContext(principal, request),
        });
        return { status: 201, body: transferView(transfer) };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/transfers',
      tag: 'transfers',
      summary: 'Move money between two accounts of the same currency',
      permission: 'transfers:write',
      operationId: 'transfer.create',
      rateLimit: 'money',
      idempotent: true,
      consentBound: true,
      schema: {
        body: Strict({
          source_account_id: Id('acc'),
          destination_account_id: Id('acc'),
          amount: amountSchema,
          currency: currencySchema,
          description: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
          metadata: Type.Optional(metadataSchema),
        }),
        response: { 201: transferSchema, ...problemResponses },
      },
      async handler({ principal, body, tx, request }) {
        const confined = confinedCustomer(principal);
        if (confined !== undefined) {
          // An end user moves money only out of its own accounts.
          const source = await ledger.getAccount(principal.tenantId, body.source_account_id, tx);
          if (!source || source.customer_id !== confined) throw new AppError('not_found', 'Account not found');
        }
        const payment = {
          sourceId: body.source_account_id,
          destinationId: body.destination_account_id,
          amount: BigInt(body.amount),
          currency: body.currency,
        };
        // A token that carries a payment consent makes that payment only, once: matched and
        // locked here, spent below, in this same transaction (src/consents).
        const { consentId } = principal;
        const consent = consentId === undefined ? undefined : await consents.authorizePayment(tx, { ...principal, consentId }, payment);
        const context = auditContext(principal, request);
        const transfer = await ledger.post(tx, {
          tenantId: principal.tenantId,
          clientId: principal.clientId,
          kind: 'transfer',
          ...payment,
          description: body.description,
          metadata: body.metadata,
          context,
        });
        if (consent) await consents.markConsumed(tx, consent, transfer.id, context);
        return { status: 201, body: transferView(transfer) };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/transfers/:id/reversals',
      tag: 'transfers',
      summary: 'Reverse a transfer or deposit, in full or in part: the money goes back from its destination to its source',
      permission: 'transfers:write',
      operationId: 'transfer.reverse',
      rateLimit: 'money',
      idempotent: true,
      schema: {
        params: IdParams('tr'),
        body: Strict({
          amount: Type.Optional(amountSchema),
          reason: Type.String({ minLength: 1, maxLength: 500 }),
        }),
        response: { 201: transferSchema, ...problemResponses },
      },
      async handler({ principal, params, body, tx, request }) {
        // Taking money back out of an account is the tenant's decision, never an end user's (as
        // with deposits): a customer principal is refused whatever the transfer.
        if (confinedCustomer(principal) !== undefined) throw new AppError('insufficient_scope');
        const reversal = await reverseTransfer(ledger, tx, {
          tenantId: principal.tenantId,
          clientId: principal.clientId,
          transferId: params.id,
          amount: body.amount === undefined ? undefined : BigInt(body.amount),
          reason: body.reason,
          context: auditContext(principal, request),
        });
        request.debitedAccount = reversal.source_account_id;
        return { status: 201, body: transferView(reversal) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/transfers/:id',
      tag: 'transfers',
      summary: 'Read a transfer',
      permission: 'transfers:read',
      operationId: 'transfer.read',
      rateLimit: 'read',
      schema: { params: IdParams('tr'), response: { 200: transferSchema, ...problemResponses } },
      async handler({ principal, params }) {
        const transfer = await ledger.getTransfer(principal.tenantId, params.id);
        if (!transfer) throw new AppError('not_found', 'Transfer not found');
        const confined = confinedCustomer(principal);
        if (confined !== undefined) {
          const own = await Promise.all(
            [transfer.source_account_id, transfer.destination_account_id].map((id) => ledger.getAccount(principal.tenantId, id)),
          );
          if (!own.some((a) => a?.customer_id === confined)) throw new AppError('not_found', 'Transfer not found');
        }
        return { status: 200, body: transferView(transfer) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/transfers',
      tag: 'transfers',
      summary: 'List transfers (of one account with account_id)',
      permission: 'transfers:read',
      operationId: 'transfer.list',
      rateLimit: 'read',
      schema: {
        querystring: Strict({ ...ListQuery, account_id: Type.Optional(Id('acc')) }),
        response: { 200: ListOf(transferSchema), ...problemResponses },
      },
      async handler({ principal, query }) {
        const confined = confinedCustomer(principal);
        if (confined !== undefined && query.account_id === undefined) {
          throw new AppError('validation_failed', 'query.account_id is required for a customer');
        }
        if (query.account_id !== undefined) await visibleAccount(principal, query.account_id);
        const limit = pageSize(query);
        const rows = await ledger.listTransfers(
          principal.tenantId,
          query.account_id === undefined ? undefined : [query.account_id],
          limit,
          query.starting_after,
        );
        return { status: 200, body: toPage(rows.map(transferView), limit) };
      },
    }),
  ];
}
