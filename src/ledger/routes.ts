// Ledger routes: accounts, entries, deposits and transfers.
import { AppError } from '../errors.js';
import type { MoneyHandlerContext } from '../gateway/pipeline.js';
import { listQueryProperties, listResponse, toPage } from '../gateway/pagination.js';
import type { ApiRoute, HandlerContext } from '../gateway/route-table.js';
import { problemResponses } from '../gateway/schemas.js';
import { assertOwner, confinedCustomer } from '../lib/ownership.js';
import type { Principal } from '../lib/principal.js';
import { accountView, entryView, transferView, type Ledger } from './ledger-service.js';
import { amountSchema, currencySchema } from './money.js';

const idPattern = (prefix: string) => ({ type: 'string', pattern: `^${prefix}_[0-9a-z]{26}$` });
const idParam = (prefix: string) => ({
  type: 'object', additionalProperties: false, required: ['id'], properties: { id: idPattern(prefix) },
});

const accountSchema = {
  type: 'object', additionalProperties: false,
  required: ['id', 'customer_id', 'kind', 'currency', 'balance', 'status', 'created_at'],
  properties: {
    id: { type: 'string' },
    customer_id: { type: ['string', 'null'] },
    kind: { type: 'string', enum: ['customer', 'settlement'] },
    currency: { type: 'string' },
    balance: {
      type: 'object', additionalProperties: false, required: ['available', 'pending'],
      properties: { available: { type: 'integer' }, pending: { type: 'integer' } },
    },
    status: { type: 'string', enum: ['open', 'closed'] },
    created_at: { type: 'string', format: 'date-time' },
  },
};

const metadataSchema = {
  type: 'object', maxProperties: 20,
  propertyNames: { pattern: '^[A-Za-z0-9_.-]{1,40}$' },
  additionalProperties: { type: 'string', maxLength: 500 },
};

const transferSchema = {
  type: 'object', additionalProperties: false,
  required: ['id', 'kind', 'status', 'source_account_id', 'destination_account_id', 'amount', 'currency', 'description', 'reference', 'metadata', 'created_at'],
  properties: {
    id: { type: 'string' },
    kind: { type: 'string', enum: ['transfer', 'deposit'] },
    status: { type: 'string', enum: ['posted'] },
    source_account_id: { type: 'string' },
    destination_account_id: { type: 'string' },
    amount: { type: 'integer' },
    currency: { type: 'string' },
    description: { type: ['string', 'null'] },
    reference: { type: ['string', 'null'] },
    metadata: { anyOf: [{ type: 'object', additionalProperties: { type: 'string' } }, { type: 'null' }] },
    created_at: { type: 'string', format: 'date-time' },
  },
};

const entrySchema = {
  type: 'object', additionalProperties: false,
  required: ['id', 'transfer_id', 'account_id', 'amount', 'currency', 'balance_after', 'created_at'],
  properties: {
    id: { type: 'string' },
    transfer_id: { type: 'string' },
    account_id: { type: 'string' },
    amount: { type: 'integer', description: 'Signed: negative for a debit' },
    currency: { type: 'string' },
    balance_after: { type: 'integer' },
    created_at: { type: 'string', format: 'date-time' },
  },
};

/** Request facts for the audit event the ledger writes with each change. */
function auditContext(principal: Principal, request: { ip: string; id: unknown }) {
  return { clientId: principal.clientId, userId: principal.userId, ip: request.ip, requestId: String(request.id) };
}

interface CustomerCheck {
  exists(tenantId: string, id: string): Promise<'active' | 'erased' | undefined>;
}

export function ledgerRoutes(ledger: Ledger, customers: CustomerCheck): ApiRoute[] {
  /** The account, if this principal may see it; otherwise not_found (docs/contract.md §4). */
  async function visibleAccount(principal: Principal, id: string) {
    const account = await ledger.getAccount(principal.tenantId, id);
    if (!account) throw new AppError('not_found', 'Account not found');
    assertOwner(principal, account.customer_id);
    return account;
  }

  return [
    {
      method: 'POST', url: '/v1/accounts', tag: 'accounts', summary: 'Open an account for a customer',
      permission: 'accounts:write', operationId: 'account.create', rateLimit: 'write',
      schema: {
        body: {
          type: 'object', additionalProperties: false, required: ['customer_id', 'currency'],
          properties: { customer_id: idPattern('cus'), currency: currencySchema },
        },
        response: { 201: accountSchema, ...problemResponses },
      },
      async handler({ principal, body, request }: HandlerContext<{ customer_id: string; currency: string }>) {
        if (confinedCustomer(principal) !== undefined) throw new AppError('insufficient_scope');
        const status = await customers.exists(principal.tenantId, body.customer_id);
        if (status === undefined) throw new AppError('not_found', 'Customer not found');
        if (status === 'erased') throw new AppError('customer_erased');
        const account = await ledger.createAccount(principal.tenantId, body.customer_id, body.currency, auditContext(principal, request));
        return { status: 201, body: accountView(account) };
      },
    },
    {
      method: 'GET', url: '/v1/accounts/:id', tag: 'accounts', summary: 'Read an account and its balance',
      permission: 'accounts:read', operationId: 'account.read', rateLimit: 'read',
      schema: { params: idParam('acc'), response: { 200: accountSchema, ...problemResponses } },
      async handler({ principal, params }) {
        return { status: 200, body: accountView(await visibleAccount(principal, params.id)) };
      },
    },
    {
      method: 'GET', url: '/v1/accounts', tag: 'accounts', summary: "List a tenant's (or one customer's) accounts",
      permission: 'accounts:read', operationId: 'account.list', rateLimit: 'read',
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: { ...listQueryProperties, customer_id: idPattern('cus') } },
        response: { 200: listResponse(accountSchema), ...problemResponses },
      },
      async handler({ principal, query }) {
        const confined = confinedCustomer(principal);
        if (confined !== undefined && query.customer_id !== undefined && query.customer_id !== confined) {
          return { status: 200, body: { data: [], has_more: false, next_cursor: null } };
        }
        const rows = await ledger.listAccounts(principal.tenantId, confined ?? query.customer_id, query.limit, query.starting_after);
        return { status: 200, body: toPage(rows.map(accountView), query.limit) };
      },
    },
    {
      method: 'GET', url: '/v1/accounts/:id/entries', tag: 'accounts', summary: "An account's ledger lines, oldest first",
      permission: 'accounts:read', operationId: 'account.entries', rateLimit: 'read',
      schema: {
        params: idParam('acc'),
        querystring: { type: 'object', additionalProperties: false, properties: listQueryProperties },
        response: { 200: listResponse(entrySchema), ...problemResponses },
      },
      async handler({ principal, params, query }) {
        const account = await visibleAccount(principal, params.id);
        const rows = await ledger.listEntries(account.id, query.limit, query.starting_after);
        return { status: 200, body: toPage(rows.map(entryView), query.limit) };
      },
    },
    {
      method: 'POST', url: '/v1/deposits', tag: 'transfers', summary: "Money in, from the tenant's settlement account",
      permission: 'ledger:fund', operationId: 'deposit.create', rateLimit: 'money', idempotent: true,
      schema: {
        body: {
          type: 'object', additionalProperties: false, required: ['account_id', 'amount', 'currency', 'reference'],
          properties: {
            account_id: idPattern('acc'), amount: amountSchema, currency: currencySchema,
            reference: { type: 'string', minLength: 1, maxLength: 140 },
          },
        },
        response: { 201: transferSchema, ...problemResponses },
      },
      async handler(ctx) {
        const { principal, body, tx } = ctx as MoneyHandlerContext;
        if (confinedCustomer(principal) !== undefined) throw new AppError('insufficient_scope');
        const transfer = await ledger.deposit(tx, {
          tenantId: principal.tenantId, clientId: principal.clientId, destinationId: body.account_id,
          amount: BigInt(body.amount), currency: body.currency, reference: body.reference, context: auditContext(principal, ctx.request),
        });
        return { status: 201, body: transferView(transfer) };
      },
    },
    {
      method: 'POST', url: '/v1/transfers', tag: 'transfers', summary: 'Move money between two accounts of the same currency',
      permission: 'transfers:write', operationId: 'transfer.create', rateLimit: 'money', idempotent: true,
      schema: {
        body: {
          type: 'object', additionalProperties: false, required: ['source_account_id', 'destination_account_id', 'amount', 'currency'],
          properties: {
            source_account_id: idPattern('acc'), destination_account_id: idPattern('acc'),
            amount: amountSchema, currency: currencySchema,
            description: { type: 'string', minLength: 1, maxLength: 500 },
            metadata: metadataSchema,
          },
        },
        response: { 201: transferSchema, ...problemResponses },
      },
      async handler(ctx) {
        const { principal, body, tx } = ctx as MoneyHandlerContext;
        const confined = confinedCustomer(principal);
        if (confined !== undefined) {
          // An end user moves money only out of its own accounts.
          const source = await ledger.getAccount(principal.tenantId, body.source_account_id, tx);
          if (!source || source.customer_id !== confined) throw new AppError('not_found', 'Account not found');
        }
        const transfer = await ledger.post(tx, {
          tenantId: principal.tenantId, clientId: principal.clientId, kind: 'transfer',
          sourceId: body.source_account_id, destinationId: body.destination_account_id,
          amount: BigInt(body.amount), currency: body.currency, description: body.description, metadata: body.metadata,
          context: auditContext(principal, ctx.request),
        });
        return { status: 201, body: transferView(transfer) };
      },
    },
    {
      method: 'GET', url: '/v1/transfers/:id', tag: 'transfers', summary: 'Read a transfer',
      permission: 'transfers:read', operationId: 'transfer.read', rateLimit: 'read',
      schema: { params: idParam('tr'), response: { 200: transferSchema, ...problemResponses } },
      async handler({ principal, params }) {
        const transfer = await ledger.getTransfer(principal.tenantId, params.id);
        if (!transfer) throw new AppError('not_found', 'Transfer not found');
        if (confinedCustomer(principal) !== undefined) {
          const own = await Promise.all([transfer.source_account_id, transfer.destination_account_id].map((id) => ledger.getAccount(principal.tenantId, id)));
          if (!own.some((a) => a?.customer_id === confinedCustomer(principal))) throw new AppError('not_found', 'Transfer not found');
        }
        return { status: 200, body: transferView(transfer) };
      },
    },
    {
      method: 'GET', url: '/v1/transfers', tag: 'transfers', summary: "List transfers (of one account with account_id)",
      permission: 'transfers:read', operationId: 'transfer.list', rateLimit: 'read',
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: { ...listQueryProperties, account_id: idPattern('acc') } },
        response: { 200: listResponse(transferSchema), ...problemResponses },
      },
      async handler({ principal, query }) {
        const confined = confinedCustomer(principal);
        if (confined !== undefined && query.account_id === undefined) {
          throw new AppError('validation_failed', 'query.account_id is required for a customer');
        }
        if (query.account_id !== undefined) await visibleAccount(principal, query.account_id);
        const rows = await ledger.listTransfers(principal.tenantId, query.account_id === undefined ? undefined : [query.account_id], query.limit, query.starting_after);
        return { status: 200, body: toPage(rows.map(transferView), query.limit) };
      },
    },
  ];
}
