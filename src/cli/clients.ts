import { readFileSync } from 'node:fs';
import { createAuditLog } from '../audit/audit-log.js';
import { createPlatformSecrets } from '../crypto/platform-secrets.js';
import { AppError } from '../errors.js';
import { loadConfig } from '../config.js';
import { gatewayScopes } from '../gateway/upstream/config.js';
import { createClientRules, registrableScopes, toCreateClientInput } from '../identity/client-input.js';
import { createIdentity, type CreateClientInput } from '../identity/index.js';
import { createLogger } from '../logger.js';
import { SPECS, subcommandUsage } from './commands.js';
import { CliError, openEnvironment, print, type CommandContext } from './context.js';
import { parseOptions } from './options.js';

/**
 * The options as the admin API's body, judged by the one validator of a new client (the same rules
 * and words as POST /v1/admin/clients) before anything is opened. Only what concerns the options
 * themselves is said here.
 */
function parseCreate(args: string[]): CreateClientInput {
  const { values } = parseOptions(SPECS.clientsCreate, args);
  if (!values.tenant) throw new CliError('--tenant NAME is required');
  if (!values.name) throw new CliError('--name NAME is required');
  const scopes = scopeSet(values.scopes);
  if (!scopes?.length) throw new CliError('--scopes "s1 s2" is required: grant only what the client needs');
  const defaults = scopeSet(values['default-scopes']);
  const body = {
    tenant: values.tenant,
    name: values.name,
    scopes,
    ...(values.grant ? { grant: values.grant } : {}),
    ...(values['redirect-uri'] ? { redirect_uris: values['redirect-uri'] } : {}),
    ...(values.auth ? { auth_method: values.auth } : {}),
    ...(values['jwks-file'] ? { jwks: readJwks(values['jwks-file']) } : {}),
    ...(values['tls-subject'] ? { tls_subject: values['tls-subject'] } : {}),
    ...(values.binding ? { binding: values.binding } : {}),
    ...(defaults ? { default_scopes: defaults } : {}),
  };
  // The scopes the gateway's routes name are registrable too: the configuration says which.
  const rules = createClientRules(registrableScopes(gatewayScopes(loadConfig().gateway)));
  try {
    return toCreateClientInput(rules.validateNewClient(body));
  } catch (err) {
    if (err instanceof AppError) throw new CliError(err.detail ?? err.code);
    throw err;
  }
}

/** "s1 s2" as a list; a scope named twice counts once (as the service always did). */
const scopeSet = (v: string | undefined): string[] | undefined =>
  v === undefined ? undefined : [...new Set(v.split(/\s+/).filter(Boolean))];

function readJwks(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch {
    throw new CliError(`cannot read a JWK Set from ${file}`);
  }
}

function parseReview(args: string[]): number {
  const { values } = parseOptions(SPECS.clientsReview, args);
  const days = values.days === undefined ? 30 : Number(values.days);
  if (!Number.isInteger(days) || days < 1 || days > 365) throw new CliError('--days must be an integer 1..365');
  return days;
}

function parseDecoy(args: string[]): { tenant: string; name: string; scopes: string[]; tokenDays: number } {
  const { values } = parseOptions(SPECS.clientsCreateDecoy, args);
  if (!values.tenant) throw new CliError('--tenant NAME is required');
  if (!values.name) throw new CliError('--name NAME is required (where it is planted: "ci-secrets wiki page")');
  const tokenDays = values['token-days'] === undefined ? 365 : Number(values['token-days']);
  if (!Number.isInteger(tokenDays) || tokenDays < 1 || tokenDays > 3650) throw new CliError('--token-days must be an integer 1..3650');
  return { tenant: values.tenant, name: values.name, scopes: scopeSet(values.scopes) ?? ['accounts:read'], tokenDays };
}

/** What only the service can judge (oidc-provider's view of the metadata, a name's length) is one line too. */
function validationAsCliError(err: unknown): never {
  if (err instanceof AppError && err.code === 'validation_failed') throw new CliError(err.detail ?? err.code);
  throw err;
}

export async function clientsCommand(args: string[], ctx: CommandContext): Promise<number> {
  const [sub, ...rest] = args;
  const known = ['create', 'create-decoy', 'list', 'revoke', 'review'];
  if (sub === undefined || !known.includes(sub)) throw new CliError(subcommandUsage('clients'));
  const input = sub === 'create' ? parseCreate(rest) : undefined;
  const decoy = sub === 'create-decoy' ? parseDecoy(rest) : undefined;
  const reviewDays = sub === 'review' ? parseReview(rest) : undefined;
  if (sub === 'list') parseOptions(SPECS.clientsList, rest);
  const revokeArgs = sub === 'revoke' ? parseOptions(SPECS.clientsRevoke, rest).positionals : [];
  const env = await openEnvironment();
  try {
    const secrets = createPlatformSecrets(env.db, env.master);
    const identity = await createIdentity({
      db: env.db,
      master: env.master,
      secrets,
      issuer: env.issuer,
      logger: createLogger('silent'),
      trustProxy: false,
      gatewayScopes: gatewayScopes(env.config.gateway),
      // Client changes made at the terminal are audited like those made through the API (issue 3).
      audit: createAuditLog({ db: env.db, secrets, checkpointIntervalMs: 0 }),
    });
    if (input) {
      const created = await identity.clients.create(input).catch(validationAsCliError);
      print(
        ctx,
        created,
        [
          `client_id:     ${created.client_id}`,
          ...(created.client_secret ? [`client_secret: ${created.client_secret}   (shown once: store it now)`] : []),
          `tenant_id:     ${created.tenant_id}`,
          `scopes:        ${created.scopes.join(' ')}`,
        ].join('\n'),
      );
      return 0;
    }
    if (decoy) {
      const created = await identity.decoys.create(decoy).catch(validationAsCliError);
      // Printed once, like a real client's secret: the point is that it looks like one.
      print(
        ctx,
        created,
        [
          `client_id:     ${created.client_id}`,
          `client_secret: ${created.client_secret}`,
          `access_token:  ${created.access_token}`,
          `tenant_id:     ${created.tenant_id}`,
          'decoy: plant these where they should never be used; any use is refused and raises a critical alert',
        ].join('\n'),
      );
      return 0;
    }
    if (reviewDays !== undefined) {
      // Least privilege: what each client holds versus what it used in the window.
      const review = await identity.usage.review(reviewDays);
      print(
        ctx,
        review,
        [
          `access review, last ${review.days} day(s):`,
          ...review.clients.map(
            (c) =>
              `${c.client_id}  ${c.status.padEnd(7)}  ${c.tenant}/${c.name}${c.idle ? '  IDLE' : ''}\n` +
              `    registered: ${c.registered.join(' ')}\n    exercised:  ${c.exercised.join(' ') || '-'}\n` +
              `    unused:     ${c.unused.join(' ') || '-'}${c.unused.length ? '   (remove them)' : ''}`,
          ),
        ].join('\n'),
      );
      return 0;
    }
    if (sub === 'list') {
      const clients = await identity.clients.list();
      print(
        ctx,
        clients,
        clients.map((c) => `${c.client_id}  ${c.status.padEnd(7)}  ${c.tenant}/${c.name}  ${c.scopes.join(' ')}`).join('\n') ||
          '(no clients)',
      );
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
