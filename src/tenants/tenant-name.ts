// The one rule for a tenant's name, in every form a caller needs: the JSON Schema pattern (HTTP
// bodies, input validators), a type guard, and the schema itself. Names end up in URLs of scripts,
// logs and admin screens, so they stay short, lower-case and free of spaces.
import Type from 'typebox';

/** 1 to 63 characters of a-z, 0-9 and `-`, not starting with `-` (today's CLI and HTTP rule). */
export const TENANT_NAME_PATTERN = '^[a-z0-9][a-z0-9-]{0,62}$';

const TENANT_NAME = new RegExp(TENANT_NAME_PATTERN);

export const TENANT_NAME_RULE = 'a-z, 0-9 and -, 1 to 63 characters, not starting with -';

export function isTenantName(value: unknown): value is string {
  return typeof value === 'string' && TENANT_NAME.test(value);
}

/** The schema of a tenant name field, for the input schemas that name a tenant. */
export const tenantNameSchema = Type.String({
  pattern: TENANT_NAME_PATTERN,
  description: `Tenant name (${TENANT_NAME_RULE}); created if new`,
});
