// Audit events of the authorization server and of client management. oidc-provider announces
// token issuance and refusals as events; we listen instead of changing its flow. Client changes
// are recorded by the client store itself, in the change's transaction (./clients.ts). Never a
// token, secret or assertion in an event: client ids, grant types, error codes.
import type Provider from 'oidc-provider';
import { AUDIT_ACTIONS } from '../audit/actions.js';
import type { AuditEventInput, AuditLog } from '../audit/types.js';
import { isId } from '../lib/ids.js';

interface Ctx {
  ip?: string;
  get?(name: string): string;
  res?: { getHeader(name: string): unknown };
  body?: unknown;
  oidc?: { client?: { clientId: string; tenant_id?: unknown; tenantId?: unknown }; params?: Record<string, unknown> };
}

/** The client named by a failed request: the authenticated one, else the Basic user or client_id param, when it has a client id's shape. */
function claimedClient(ctx: Ctx): string | undefined {
  if (ctx.oidc?.client?.clientId) return ctx.oidc.client.clientId;
  let candidate: unknown = ctx.oidc?.params?.client_id;
  const header = ctx.get?.('authorization') ?? '';
  if (candidate === undefined && header.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    // Only the part before the colon (the id), and only if it looks like one: never the secret.
    try {
      candidate = colon > 0 ? decodeURIComponent(decoded.slice(0, colon)) : undefined;
    } catch {
      candidate = undefined;
    }
  }
  return typeof candidate === 'string' && isId('cli', candidate) ? candidate : undefined;
}

function base(ctx: Ctx): Partial<AuditEventInput> {
  const client = ctx.oidc?.client;
  const tenant = client?.tenantId ?? client?.tenant_id;
  const requestId = ctx.res?.getHeader('x-request-id');
  return {
    ip: ctx.ip,
    clientId: claimedClient(ctx),
    tenantId: typeof tenant === 'string' ? tenant : undefined,
    requestId: typeof requestId === 'string' ? requestId : undefined,
  };
}

export function attachAuditEvents(
  provider: Provider,
  audit: AuditLog,
  authFailures: { inc(labels: { kind: string }): void } | undefined,
  onError: (err: unknown) => void = () => undefined,
): void {
  const record = (event: AuditEventInput) => void audit.record(event).catch(onError);

  provider.on('grant.success', (ctx: Ctx) => {
    const body = ctx.body as { scope?: unknown; token_type?: unknown } | undefined;
    record({
      ...base(ctx),
      action: AUDIT_ACTIONS.tokenIssued,
      outcome: 'success',
      details: {
        grant_type: (typeof ctx.oidc?.params?.grant_type === 'string' ? ctx.oidc.params.grant_type : 'unknown').slice(0, 40),
        scope: typeof body?.scope === 'string' ? body.scope : null,
        token_type: typeof body?.token_type === 'string' ? body.token_type : null,
      },
    });
  });

  // invalid_client on any endpoint that authenticates clients is a client-authentication failure.
  for (const event of ['grant.error', 'introspection.error', 'revocation.error', 'pushed_authorization_request.error']) {
    provider.on(event, (ctx: Ctx, err: { error?: string } | undefined) => {
      const code = err?.error ?? 'unknown';
      const endpoint = event.split('.')[0] ?? event;
      if (code === 'invalid_client') {
        authFailures?.inc({ kind: 'client_auth' });
        record({ ...base(ctx), action: AUDIT_ACTIONS.clientAuthFailed, outcome: 'failure', details: { endpoint, error: code } });
      } else if (event === 'grant.error') {
        record({ ...base(ctx), action: AUDIT_ACTIONS.tokenRefused, outcome: 'failure', details: { error: code.slice(0, 60) } });
      }
    });
  }
}
