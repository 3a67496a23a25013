// The bootstrap admin client of a first start: enough to manage clients, keys and to observe. It is
// registered through clients.create like any other, so the one validator of a new client
// (identity/client-input.ts) and the tenant rule judge it too; the tests check it passes them.
import type { CreateClientInput } from '../identity/types.js';
import { PLATFORM_TENANT } from './platform-scope.js';

export const BOOTSTRAP_SCOPES = ['admin:clients', 'admin:keys', 'audit:read', 'alerts:read', 'metrics:read', 'analytics:read'] as const;

export const BOOTSTRAP_CLIENT: Readonly<CreateClientInput> = {
  tenant: PLATFORM_TENANT,
  name: 'bootstrap-admin',
  scopes: [...BOOTSTRAP_SCOPES],
};
