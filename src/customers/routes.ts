// Customer routes: declarative entries for the gateway's route table.
import { AppError } from '../errors.js';
import Type from 'typebox';
import { defineRoute, type ApiRoute } from '../gateway/route-table.js';
import { ListOf, ListQuery, pageSize, toPage } from '../gateway/pagination.js';
import { confinedCustomer } from '../lib/ownership.js';
import { IdParams, Nullable, problemResponses, StringEnum, Strict } from '../gateway/schemas.js';
import type { Customers, NewCustomer } from './customer-service.js';
import { auditContext } from '../lib/audit-context.js';

const idParams = IdParams('cus');

const addressProperties = {
  line1: Type.String({ minLength: 1, maxLength: 200 }),
  line2: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  city: Type.String({ minLength: 1, maxLength: 100 }),
  postal_code: Type.String({ minLength: 1, maxLength: 20 }),
  region: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  country: Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2' }),
};

const newCustomerSchema = Strict({
  full_name: Type.String({ minLength: 1, maxLength: 200 }),
  email: Type.String({ format: 'email', maxLength: 254 }),
  phone: Type.Optional(Type.String({ pattern: '^\\+[1-9][0-9]{6,14}$', description: 'E.164' })),
  date_of_birth: Type.Optional(Type.String({ format: 'date' })),
  national_id: Type.Optional(Type.String({ minLength: 4, maxLength: 32, pattern: '^[A-Za-z0-9 -]+$' })),
  address: Type.Optional(Strict(addressProperties)),
});

export const customerSchema = Strict({
  id: Type.String(),
  status: StringEnum(['active', 'erased']),
  full_name: Nullable(Type.String()),
  email: Nullable(Type.String()),
  phone: Nullable(Type.String()),
  date_of_birth: Nullable(Type.String()),
  national_id_last4: Nullable(Type.String()),
  // An erased customer's address is null; a stored one may lack the optional lines.
  address: Type.Union([Type.Partial(Strict(addressProperties)), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  erased_at: Nullable(Type.String({ format: 'date-time' })),
});

export function customerRoutes(customers: Customers): ApiRoute[] {
  return [
    defineRoute({
      method: 'POST',
      url: '/v1/customers',
      tag: 'customers',
      summary: 'Create a customer (personal data encrypted at rest)',
      permission: 'customers:write',
      operationId: 'customer.create',
      rateLimit: 'write',
      schema: { body: newCustomerSchema, response: { 201: customerSchema, ...problemResponses } },
      async handler({ principal, body, request }) {
        if (confinedCustomer(principal) !== undefined) throw new AppError('insufficient_scope');
        return { status: 201, body: await customers.create(principal.tenantId, body, auditContext(principal, request)) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/customers/:id',
      tag: 'customers',
      summary: 'Read a customer',
      permission: 'customers:read',
      operationId: 'customer.read',
      rateLimit: 'read',
      schema: { params: idParams, response: { 200: customerSchema, ...problemResponses } },
      async handler({ principal, params }) {
        const confined = confinedCustomer(principal);
        const customer = confined === undefined || confined === params.id ? await customers.get(principal.tenantId, params.id) : undefined;
        if (!customer) throw new AppError('not_found', 'Customer not found');
        return { status: 200, body: customer };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/customers',
      tag: 'customers',
      summary: 'List customers, or find them by exact e-mail',
      permission: 'customers:read',
      operationId: 'customer.list',
      rateLimit: 'read',
      schema: {
        querystring: Strict({ ...ListQuery, email: Type.Optional(Type.String({ minLength: 3, maxLength: 254 })) }),
        response: { 200: ListOf(customerSchema), ...problemResponses },
      },
      async handler({ principal, query }) {
        const onlyId = confinedCustomer(principal);
        const rows = await customers.list(
          principal.tenantId,
          { ...(query.email !== undefined ? { email: query.email } : {}), ...(onlyId !== undefined ? { onlyId } : {}) },
          pageSize(query),
          query.starting_after,
        );
        return { status: 200, body: toPage(rows, pageSize(query)) };
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/v1/customers/:id',
      tag: 'customers',
      summary: 'Erase a customer (crypto-shredding; ledger history stays)',
      permission: 'customers:write',
      operationId: 'customer.erase',
      rateLimit: 'write',
      schema: { params: idParams, response: { 200: customerSchema, ...problemResponses } },
      async handler({ principal, params, request }) {
        if (confinedCustomer(principal) !== undefined) throw new AppError('insufficient_scope');
        const erased = await customers.erase(principal.tenantId, params.id, auditContext(principal, request));
        if (!erased) throw new AppError('not_found', 'Customer not found');
        return { status: 200, body: erased };
      },
    }),
  ];
}

export type { NewCustomer };
