// `vaultgate receipts verify --in FILE [--jwks FILE]`: the signed receipt of a saved raw HTTP
// response (docs/contract.md §10), checked offline: the digest against the body bytes, the
// signature against the published receipt keys (this deployment's, or a saved JWK Set).
import { readFileSync } from 'node:fs';
import { AUDIT_ACTIONS } from '../audit/actions.js';
import { createAuditLog } from '../audit/audit-log.js';
import { createPlatformSecrets } from '../crypto/platform-secrets.js';
import { createReceiptKeys } from '../receipts/keys.js';
import { verifyReceipt, type PublicJwk } from '../receipts/receipt.js';
import { SPECS, subcommandUsage } from './commands.js';
import { CliError, openEnvironment, print, type CommandContext } from './context.js';
import { parseOptions } from './options.js';

/** A raw HTTP/1.1 or HTTP/2 response as curl -si saves it: the last header block, then the body bytes. */
export function parseRawResponse(raw: Buffer): { status: number; headers: Record<string, string>; body: Buffer } {
  let rest = raw;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n') >= 0 ? rest.indexOf('\r\n\r\n') : rest.indexOf('\n\n');
    if (end < 0) throw new CliError('not a saved HTTP response: no blank line after the headers');
    const sep = rest.subarray(end, end + 4).toString() === '\r\n\r\n' ? 4 : 2;
    const head = rest.subarray(0, end).toString('latin1').split(/\r?\n/);
    const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(head[0] ?? '')?.[1]);
    if (!Number.isInteger(status)) throw new CliError('not a saved HTTP response: no status line');
    rest = rest.subarray(end + sep);
    // An interim answer (100 Continue) comes first: the final one follows.
    if (status >= 100 && status < 200) continue;
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    return { status, headers, body: rest };
  }
}

/** The next receipt key, audited (its id only: never key material). */
async function rotateKey(args: string[], ctx: CommandContext): Promise<number> {
  parseOptions(SPECS.receiptsRotateKey, args);
  const env = await openEnvironment();
  try {
    const secrets = createPlatformSecrets(env.db, env.master);
    const key = await createReceiptKeys(secrets).rotate();
    await createAuditLog({ db: env.db, secrets, checkpointIntervalMs: 0 }).record({
      action: AUDIT_ACTIONS.keyRotated,
      outcome: 'success',
      target: key.kid,
      details: { actor: 'cli', key: 'receipt' },
    });
    print(ctx, { kid: key.kid }, `receipt key ${key.kid} created; nodes sign with it within a minute, the old keys stay published`);
    return 0;
  } finally {
    await env.db.close();
  }
}

export async function receiptsCommand(args: string[], ctx: CommandContext): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'rotate-key') return rotateKey(rest, ctx);
  if (sub !== 'verify') throw new CliError(subcommandUsage('receipts'));
  const { values } = parseOptions(SPECS.receiptsVerify, rest);
  if (!values.in) throw new CliError('--in FILE is required');
  const answer = parseRawResponse(readFileSync(values.in));
  let jwks: { keys: PublicJwk[] };
  if (values.jwks) {
    jwks = JSON.parse(readFileSync(values.jwks, 'utf8')) as { keys: PublicJwk[] };
  } else {
    const env = await openEnvironment();
    try {
      jwks = await createReceiptKeys(createPlatformSecrets(env.db, env.master)).publicJwks();
    } finally {
      await env.db.close();
    }
  }
  const check = verifyReceipt(answer, jwks);
  if (!check.ok) {
    print(ctx, { valid: false, reason: check.reason }, `receipt does NOT verify: ${check.reason}`);
    return 1;
  }
  print(
    ctx,
    { valid: true, kid: check.kid, created: new Date(check.created * 1000).toISOString(), status: answer.status },
    `receipt verifies: HTTP ${answer.status}, signed by ${check.kid} at ${new Date(check.created * 1000).toISOString()}`,
  );
  return 0;
}
