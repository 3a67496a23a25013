// Who sees every tenant's audit events and alerts: principals of the platform tenant (the one the
// bootstrap admin belongs to). Everyone else sees only their own tenant. A client's tenant never
// changes, so the answer is cached per client.
import type { Principal } from './principal.js';

export const PLATFORM_TENANT = 'platform';

export function createPlatformScope(lookup: (clientId: string) => Promise<{ tenant: string } | undefined>) {
  const cache = new Map<string, boolean>();
  return async function seesAllTenants(principal: Principal): Promise<boolean> {
    let all = cache.get(principal.clientId);
    if (all === undefined) {
      all = (await lookup(principal.clientId))?.tenant === PLATFORM_TENANT;
      if (cache.size > 10_000) cache.clear();
      cache.set(principal.clientId, all);
    }
    return all;
  };
}
