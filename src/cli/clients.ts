import { readFileSync } from 'node:fs';
import { createAuditLog } from '../audit/audit-log.js';
import { createPlatformSecrets } from '../crypto/platform-secrets.js';
import { createIdentity } from '../identity/index.js';
import { createLogger } from '../logger.js';
import { isScope } from '../lib/principal.js';
import { SPECS, subcommandUsage } from './commands.js';
import { CliError, openEnvironment, print, type CommandContext } from './context.js';
import { parseOptions } from './options.js';

type ClientInput = Parameters<Awaited<ReturnType<typeof createIdentity>>['clients']['create']>[0];

function parseCreate(args: string[]): ClientInput {
  const { values } = parseOptions(SPECS.clientsCreate, args);
  if (!values.tenant || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(values.tenant)) throw new CliError('--tenant NAME is required (a-z, 0-9, -)');
  if (!values.name || values.name.length > 100) throw new CliError('--name NAME is required (at most 100 characters)');
  const scopes = (values.scopes ?? '').split(/\s+/).filter(Boolean);
  const unknown = scopes.filter((s) => !isScope(s));
  if (unknown.length) throw new CliError(`unknown scope(s): ${unknown.join(' ')}`);
  if (scopes.length === 0) throw new CliError('--scopes "s1 s2" is required: grant only what the client needs');
  const grant = values.grant ?? 'client_credentials';
  if (grant !== 'client_credentials' && grant !== 'authorization_code') throw new CliError('--grant must be client_credentials or authorization_code');
  const auth = values.auth ?? 'client_secret_basic';
  if (auth !== 'client_secret_basic' && auth !== 'private_key_jwt' && auth !== 'tls_client_auth') {
    throw new CliError('--auth must be client_secret_basic, private_key_jwt or tls_client_auth');
  }
  let jwks: object | undefined;
  if (auth === 'private_key_jwt') {
    if (!values['jwks-file']) throw new CliError('--auth private_key_jwt needs --jwks-file F');
    try {
      jwks = JSON.parse(readFileSync(values['jwks-file'], 'utf8')) as object;
    } catch {
      throw new CliError(`cannot read a JWK Set from ${values['jwks-file']}`);
    }
  }
  if (auth === 'tls_client_auth' && !values['tls-subject']) throw new CliError('--auth tls_client_auth needs --tls-subject DN');
  if (grant === 'authorization_code' && !values['redirect-uri']?.length) throw new CliError('--grant authorization_code needs --redirect-uri URI');
  return {
    tenant: values.tenant, name: values.name, scopes, grant,
    ...(values['redirect-uri'] ? { redirectUris: values['redirect-uri'] } : {}),
    authMethod: auth,
    ...(jwks ? { jwks } : {}),
    ...(values['tls-subject'] ? { tlsSubject: values['tls-subject'] } : {}),
    ...parseConstraints(values.binding, values['default-scopes']),
  };
}

/** --binding dpop|mtls (sender-constrained tokens) and --default-scopes "s1 s2" (issue 4). */
function parseConstraints(binding: string | undefined, defaults: string | undefined): { binding?: 'dpop' | 'mtls'; defaultScopes?: string[] } {
  if (binding !== undefined && binding !== 'dpop' && binding !== 'mtls') throw new CliError('--binding must be dpop or mtls');
  const defaultScopes = defaults?.split(/\s+/).filter(Boolean);
  if (defaultScopes?.some((s) => !isScope(s))) throw new CliError('--default-scopes: unknown scope');
  return { ...(binding ? { binding } : {}), ...(defaultScopes ? { defaultScopes } : {}) };
}

function parseReview(args: string[]): number {
  const { values } = parseOptions(SPECS.clientsReview, args);
  const days = values.days === undefined ? 30 : Number(values.days);
  if (!Number.isInteger(days) || days < 1 || days > 365) throw new CliError('--days must be an integer 1..365');
  return days;
}

export async function clientsCommand(args: string[], ctx: CommandContext): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'create' && sub !== 'list' && sub !== 'revoke' && sub !== 'review') throw new CliError(subcommandUsage('clients'));
  const input = sub === 'create' ? parseCreate(rest) : undefined;
  const reviewDays = sub === 'review' ? parseReview(rest) : undefined;
  if (sub === 'list') parseOptions(SPECS.clientsList, rest);
  const revokeArgs = sub === 'revoke' ? parseOptions(SPECS.clientsRevoke, rest).positionals : [];
  const env = await openEnvironment();
  try {
    const secrets = createPlatformSecrets(env.db, env.master);
    const identity = await createIdentity({
      db: env.db, master: env.master, secrets, issuer: env.issuer,
      logger: createLogger('silent'), trustProxy: false,
      // Client changes made at the terminal are audited like those made through the API (issue 3).
      audit: createAuditLog({ db: env.db, secrets, checkpointIntervalMs: 0 }),
    });
    if (input) {
      const created = await identity.clients.create(input);
      print(ctx, created, [
        `client_id:     ${created.client_id}`,
        ...(created.client_secret ? [`client_secret: ${created.client_secret}   (shown once: store it now)`] : []),
        `tenant_id:     ${created.tenant_id}`,
        `scopes:        ${created.scopes.join(' ')}`,
      ].join('\n'));
      return 0;
    }
    if (reviewDays !== undefined) {
      // Least privilege: what each client holds versus what it used in the window.
      const review = await identity.usage.review(reviewDays);
      print(ctx, review, [
        `access review, last ${review.days} day(s):`,
        ...review.clients.map((c) => `${c.client_id}  ${c.status.padEnd(7)}  ${c.tenant}/${c.name}${c.idle ? '  IDLE' : ''}\n`
          + `    registered: ${c.registered.join(' ')}\n    exercised:  ${c.exercised.join(' ') || '-'}\n`
          + `    unused:     ${c.unused.join(' ') || '-'}${c.unused.length ? '   (remove them)' : ''}`),
      ].join('\n'));
      return 0;
    }
    if (sub === 'list') {
      const clients = await identity.clients.list();
      print(ctx, clients, clients.map((c) => `${c.client_id}  ${c.status.padEnd(7)}  ${c.tenant}/${c.name}  ${c.scopes.join(' ')}`).join('\n') || '(no clients)');
      return 0;
    }
    const [clientId, ...extra] = revokeArgs;
    if (!clientId || extra.length) throw new CliError('usage: vaultgate clients revoke CLIENT_ID');
    if (!(await identity.clients.revoke(clientId))) throw new CliError(`no client ${clientId}`);
    print(ctx, { client_id: clientId, status: 'revoked' }, `revoked ${clientId}: its tokens stop working now`);
    return 0;
  } finally {
    await env.db.close();
  }
}
