import type { Principal } from './principal.js';

/** Request facts for the audit event a route's change writes: who (client, user) and from where. */
export function auditContext(principal: Principal, request: { ip: string; id: unknown }) {
  return { clientId: principal.clientId, userId: principal.userId, ip: request.ip, requestId: String(request.id) };
}
