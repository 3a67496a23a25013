// Roles are named bundles of permission scopes (docs/contract.md §4). An end user's token carries at most
// its role's bundle, intersected with what the client was registered for: least privilege twice.
import type { Role, Scope } from './principal.js';

export const ROLES: readonly Role[] = ['customer', 'operator', 'auditor', 'admin'];

export const ROLE_SCOPES: Readonly<Record<Role, readonly Scope[]>> = {
  // Own data only: the routes confine a customer principal to its linked customer (lib/ownership.ts).
  // …and its payment consents: it lists them and revokes them (docs/contract.md §10).
  customer: ['customers:read', 'accounts:read', 'transfers:read', 'transfers:write', 'consents:read', 'consents:write'],
  // Reads everything of its tenant, moves no money, changes nothing.
  // …except contain: freezing an account stops its money without moving any.
  // …and acknowledge alerts: handling them is the job.
  operator: ['customers:read', 'accounts:read', 'transfers:read', 'alerts:read', 'alerts:write', 'accounts:freeze'],
  // The audit log and alerts, nothing else.
  auditor: ['audit:read', 'alerts:read'],
  admin: [
    'admin:clients',
    'admin:users',
    'admin:keys',
    'scans:run',
    'webhooks:manage',
    'audit:read',
    'alerts:read',
    'alerts:write',
    'metrics:read',
    'analytics:read',
    'accounts:freeze',
  ],
};

/** Roles whose sign-in needs a second factor (TOTP). */
export const MFA_ROLES: ReadonlySet<Role> = new Set(['admin', 'operator']);

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
