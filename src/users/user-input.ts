// A new end user, as `users create` and the service take it: ONE schema, the type derived from it,
// and ONE validator (the schema, then the rules across fields). The password is judged apart:
// the CLI reads it from stdin only after the rest has passed.
import Type, { type Static } from 'typebox';
import { AppError } from '../errors.js';
import { Id, StringEnum, Strict } from '../gateway/schemas.js';
import { schemaCheck } from '../identity/client-input.js';
import { ROLES } from '../lib/roles.js';
import type { Role } from '../lib/principal.js';
import { tenantNameSchema } from '../tenants/tenant-name.js';

export const MIN_PASSWORD = 12;
export const MAX_PASSWORD = 1024;

const roleSchema = StringEnum(ROLES);

export const newUserSchema = Strict({
  tenant: tenantNameSchema,
  email: Type.String({ pattern: '^[^\\s@]{1,64}@[^\\s@]{1,255}$', description: 'Compared as typed, less surrounding white space' }),
  role: Type.Optional(roleSchema),
  customerId: Type.Optional(Id('cus')),
});

/** Who the new user is (camelCase: an in-process input; no HTTP route takes it yet). */
export type NewUserFields = Static<typeof newUserSchema>;

/** Fields that passed every rule, the default role filled in. */
export type ValidNewUser = NewUserFields & { role: Role };

/** The e-mail as it is indexed and compared: surrounding white space is not part of it. */
export const normalizeEmail = (email: unknown): string => (typeof email === 'string' ? email.trim() : '');

const checkShape = schemaCheck(newUserSchema, 'user');
const checkRole = schemaCheck(Strict({ role: roleSchema }), 'user');

const invalid = (detail: string): never => {
  throw new AppError('validation_failed', detail);
};

/** The one validator of a new user: returns it with its role, or throws validation_failed `<field>: <why>`. */
export function validateNewUser(value: unknown): ValidNewUser {
  const given =
    typeof value === 'object' && value !== null && 'email' in value && typeof value.email === 'string'
      ? { ...value, email: normalizeEmail(value.email) }
      : value;
  const user = checkShape(given);
  const role = user.role ?? 'customer';
  // A customer user sees only its customer: the link is what confines it.
  if (role === 'customer' && user.customerId === undefined)
    invalid('customerId: a customer user needs a customer id (it sees only that customer)');
  if (role !== 'customer' && user.customerId !== undefined) invalid('customerId: only customer users are linked to a customer');
  return { ...user, role };
}

/** A role to give an existing user (`users set-role`). */
export function validateRole(role: unknown): Role {
  return checkRole({ role }).role;
}

export function validatePassword(password: unknown): string {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD || password.length > MAX_PASSWORD) {
    invalid(`password: must be ${MIN_PASSWORD} to ${MAX_PASSWORD} characters`);
  }
  return password as string;
}
