// The principals of a scan: A and B, who must not see each other's objects, and `low`, who lacks
// the permissions the document declares. What a token says about itself (scopes, role, client,
// key binding) is read from its claims when it is a JWT; an opaque token tells nothing, and the
// checks then assume the least.
import { decodeJwt, type JWTPayload } from 'jose';
import { isSecured, type Operation } from './openapi.js';

export type PrincipalName = 'a' | 'b' | 'low';

export interface Principal {
  name: PrincipalName;
  token: string;
  claims: JWTPayload | undefined;
  /** The scopes the token carries; undefined when the token does not say. */
  scopes: Set<string> | undefined;
  role: string | undefined;
  clientId: string | undefined;
  /** RFC 9449 §6.1: the thumbprint a DPoP-bound token is bound to. */
  jkt: string | undefined;
}

function claimsOf(token: string): JWTPayload | undefined {
  try {
    return decodeJwt(token);
  } catch {
    return undefined;
  }
}

export function principal(name: PrincipalName, token: string): Principal {
  const claims = claimsOf(token);
  const scope = claims?.scope;
  const scp = claims?.scp;
  const scopes =
    typeof scope === 'string'
      ? new Set(scope.split(/\s+/).filter(Boolean))
      : Array.isArray(scp)
        ? new Set(scp.filter((s): s is string => typeof s === 'string'))
        : undefined;
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const cnf = claims?.cnf;
  const jkt = typeof cnf === 'object' && cnf !== null ? str((cnf as Record<string, unknown>).jkt) : undefined;
  return {
    name,
    token,
    claims,
    scopes,
    role: str(claims?.role),
    clientId: str(claims?.client_id) ?? str(claims?.azp),
    jkt,
  };
}

/**
 * Whether the document lets this principal call the operation: true, false, or undefined when
 * the token does not say what it carries.
 */
export function mayCall(p: Principal, op: Operation): boolean | undefined {
  if (!isSecured(op)) return true;
  if (op.requiredRole !== undefined) {
    if (p.role === undefined) return p.scopes === undefined ? undefined : false;
    if (p.role !== op.requiredRole) return false;
  }
  if (op.security.length === 0) return true;
  if (op.security.some((alt) => alt.length === 0)) return true;
  if (p.scopes === undefined) return undefined;
  const scopes = p.scopes;
  return op.security.some((alt) => alt.every((s) => scopes.has(s)));
}
