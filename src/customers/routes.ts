// Customer routes: declarative entries for the gateway's route table.
import { AppError } from '../errors.js';
import type { ApiRoute } from '../gateway/route-table.js';
import { listQueryProperties, listResponse, toPage } from '../gateway/pagination.js';
import { confinedCustomer } from '../lib/ownership.js';
import type { Principal } from '../lib/principal.js';
import { problemResponses } from '../gateway/schemas.js';
import type { Customers, NewCustomer } from './customer-service.js';

const idParam = {
  type: 'object', additionalProperties: false, required: ['id'],
  properties: { id: { type: 'string', pattern: '^cus_[0-9a-z]{26}$' } },
};

const addressSchema = {
  type: 'object', additionalProperties: false, required: ['line1', 'city', 'postal_code', 'country'],
  properties: {
    line1: { type: 'string', minLength: 1, maxLength: 200 },
    line2: { type: 'string', minLength: 1, maxLength: 200 },
    city: { type: 'string', minLength: 1, maxLength: 100 },
    postal_code: { type: 'string', minLength: 1, maxLength: 20 },
    region: { type: 'string', minLength: 1, maxLength: 100 },
    country: { type: 'string', pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2' },
  },
};

const newCustomerSchema = {
  type: 'object', additionalProperties: false, required: ['full_name', 'email'],
  properties: {
    full_name: { type: 'string', minLength: 1, maxLength: 200 },
    email: { type: 'string', format: 'email', maxLength: 254 },
    phone: { type: 'string', pattern: '^\\+[1-9][0-9]{6,14}$', description: 'E.164' },
    date_of_birth: { type: 'string', format: 'date' },
    national_id: { type: 'string', minLength: 4, maxLength: 32, pattern: '^[A-Za-z0-9 -]+$' },
    address: addressSchema,
  },
};

const nullable = (schema: object) => ({ anyOf: [schema, { type: 'null' }] });

export const customerSchema = {
  type: 'object', additionalProperties: false,
  required: ['id', 'status', 'full_name', 'email', 'phone', 'date_of_birth', 'national_id_last4', 'address', 'created_at', 'erased_at'],
  properties: {
    id: { type: 'string' },
    status: { type: 'string', enum: ['active', 'erased'] },
    full_name: { type: ['string', 'null'] },
    email: { type: ['string', 'null'] },
    phone: { type: ['string', 'null'] },
    date_of_birth: { type: ['string', 'null'] },
    national_id_last4: { type: ['string', 'null'] },
    address: nullable({ ...addressSchema, required: [] }),
    created_at: { type: 'string', format: 'date-time' },
    erased_at: { type: ['string', 'null'], format: 'date-time' },
  },
};

/** Request facts for the audit event written with each change. */
function auditContext(principal: Principal, request: { ip: string; id: unknown }) {
  return { clientId: principal.clientId, userId: principal.userId, ip: request.ip, requestId: String(request.id) };
}

export function customerRoutes(customers: Customers): ApiRoute[] {
  return [
    {
      method: 'POST', url: '/v1/customers', tag: 'customers', summary: 'Create a customer (personal data encrypted at rest)',
      permission: 'customers:write', audit: 'customer.create', rateLimit: 'write',
      schema: { body: newCustomerSchema, response: { 201: customerSchema, ...problemResponses } },
      async handler({ principal, body, request }) {
        if (confinedCustomer(principal) !== undefined) throw new AppError('insufficient_scope');
        return { status: 201, body: await customers.create(principal.tenantId, body as NewCustomer, auditContext(principal, request)) };
      },
    },
    {
      method: 'GET', url: '/v1/customers/:id', tag: 'customers', summary: 'Read a customer',
      permission: 'customers:read', audit: 'customer.read', rateLimit: 'read',
      schema: { params: idParam, response: { 200: customerSchema, ...problemResponses } },
      async handler({ principal, params }) {
        const confined = confinedCustomer(principal);
        const customer = confined === undefined || confined === params.id ? await customers.get(principal.tenantId, params.id) : undefined;
        if (!customer) throw new AppError('not_found', 'Customer not found');
        return { status: 200, body: customer };
      },
    },
    {
      method: 'GET', url: '/v1/customers', tag: 'customers', summary: 'List customers, or find them by exact e-mail',
      permission: 'customers:read', audit: 'customer.list', rateLimit: 'read',
      schema: {
        querystring: {
          type: 'object', additionalProperties: false,
          properties: { ...listQueryProperties, email: { type: 'string', minLength: 3, maxLength: 254 } },
        },
        response: { 200: listResponse(customerSchema), ...problemResponses },
      },
      async handler({ principal, query }) {
        const rows = await customers.list(
          principal.tenantId,
          { ...(query.email !== undefined ? { email: query.email } : {}), ...(confinedCustomer(principal) ? { onlyId: confinedCustomer(principal) } : {}) },
          query.limit, query.starting_after,
        );
        return { status: 200, body: toPage(rows, query.limit) };
      },
    },
    {
      method: 'DELETE', url: '/v1/customers/:id', tag: 'customers', summary: 'Erase a customer (crypto-shredding; ledger history stays)',
      permission: 'customers:write', audit: 'customer.erase', rateLimit: 'write',
      schema: { params: idParam, response: { 200: customerSchema, ...problemResponses } },
      async handler({ principal, params, request }) {
        if (confinedCustomer(principal) !== undefined) throw new AppError('insufficient_scope');
        const erased = await customers.erase(principal.tenantId, params.id, auditContext(principal, request));
        if (!erased) throw new AppError('not_found', 'Customer not found');
        return { status: 200, body: erased };
      },
    },
  ];
}

export type { NewCustomer };
