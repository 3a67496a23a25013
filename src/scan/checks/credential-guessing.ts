// What the two credential-guessing checks send: a client-credentials request with a wrong secret
// to the target's token endpoint, or a login operation of the document with a wrong password. The
// guesses come from an alternate loopback address where there is one (http.ts), so the lockout
// they provoke does not fall on the address the scan's own tokens came from.
import { randomBytes } from 'node:crypto';
import type { CheckContext } from '../context.js';
import type { ScanResponse } from '../http.js';
import type { Operation } from '../openapi.js';
import { propertiesOf, sample } from '../schema.js';

export const PASSWORD_FIELD = /^(password|passwd|pass|pwd|passphrase|pin|secret|client_secret)$/i;

/** Operations that take a password: sign-in forms of the document. */
export const loginOperations = (ctx: CheckContext): Operation[] =>
  ctx.doc.operations.filter(
    (op) => op.method === 'POST' && op.body && Object.keys(propertiesOf(op.body)).some((k) => PASSWORD_FIELD.test(k)),
  );

export function tokenGuess(ctx: CheckContext, endpoint: string, clientId: string): Promise<ScanResponse> {
  const credentials = Buffer.from(
    `${encodeURIComponent(clientId)}:${encodeURIComponent(`wrong-${randomBytes(12).toString('hex')}`)}`,
  ).toString('base64');
  return ctx.http.send({
    method: 'POST',
    url: endpoint,
    headers: { authorization: `Basic ${credentials}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
    alternateSource: true,
  });
}

export function loginGuess(ctx: CheckContext, op: Operation): Promise<ScanResponse> {
  const props = propertiesOf(op.body ?? {});
  const body = sample(op.body ?? {}, { marker: ctx.marker, optional: false }) as Record<string, unknown>;
  for (const k of Object.keys(props)) if (PASSWORD_FIELD.test(k)) body[k] = `wrong-${randomBytes(12).toString('hex')}`;
  return ctx.http.send({ method: 'POST', url: ctx.pathOf(op, {}), json: body, alternateSource: true });
}

/** An answer that says "slow down": 429, Retry-After, or the OAuth errors for it. */
export function isThrottled(res: ScanResponse): boolean {
  if (res.status === 429 || res.status === 503 || res.headers['retry-after'] !== undefined) return true;
  const body = res.json as { error?: unknown; code?: unknown } | undefined;
  const code = typeof body?.error === 'string' ? body.error : typeof body?.code === 'string' ? body.code : '';
  return ['slow_down', 'temporarily_unavailable', 'rate_limited', 'too_many_attempts'].includes(code);
}

/** A wrong-credentials answer: 401, or an OAuth client/grant error (RFC 6749 §5.2), or any 4xx of a sign-in form. */
export function isWrongGuess(res: ScanResponse, oauth: boolean): boolean {
  if (res.status === 401) return true;
  if (!oauth) return res.status === 400 || res.status === 403;
  const error = (res.json as { error?: unknown } | undefined)?.error;
  return (
    (res.status === 400 || res.status === 403) &&
    ['invalid_client', 'invalid_grant', 'unauthorized_client', 'access_denied'].includes(String(error))
  );
}
