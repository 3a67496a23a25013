// The bootstrap admin client's permissions: enough to manage clients, keys and to observe.
export const BOOTSTRAP_SCOPES = ['admin:clients', 'admin:keys', 'audit:read', 'alerts:read', 'metrics:read'] as const;
