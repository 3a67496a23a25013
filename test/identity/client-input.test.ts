// One rule per input: a new client is judged by the one validator (identity/client-input.ts), and
// the admin API, the CLI and the service refuse the same input with the same code and detail. The
// HTTP route checks the same schema in the gateway first, whose detail names the part: `body.name`
// over HTTP is `name` elsewhere. A new user likewise (users/user-input.ts): the CLI and the service.
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SPECS } from '../../src/cli/commands.js';
import { AppError } from '../../src/errors.js';
import { CLIENT_NAME_MAX, toNewClientBody, validateNewClient } from '../../src/identity/client-input.js';
import { BOOTSTRAP_CLIENT } from '../../src/lib/bootstrap.js';
import { validateNewUser, validatePassword } from '../../src/users/user-input.js';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { cli } from '../users/support.js';

const refusal = (fn: () => unknown): { code: string; detail: string | undefined } => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return { code: (err as AppError).code, detail: (err as AppError).detail };
  }
  throw new Error('expected a refusal');
};

let publicJwk: JWK;
let privateJwk: JWK;
beforeAll(async () => {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  publicJwk = await exportJWK(publicKey);
  privateJwk = await exportJWK(privateKey);
});

const base = { tenant: 'acme', name: 'payouts', scopes: ['accounts:read', 'transfers:write'] };
const web = () => ({
  ...base,
  grant: 'authorization_code',
  redirect_uris: ['https://app.acme.example/cb'],
  auth_method: 'private_key_jwt',
  jwks: { keys: [publicJwk] },
});

/** [what, body, the validator's detail, whether the gateway's schema check refuses it first]. */
const CASES: Array<[string, () => Record<string, unknown>, string, 'schema' | 'rule']> = [
  [
    'a name over the one limit',
    () => ({ ...base, name: 'n'.repeat(CLIENT_NAME_MAX + 1) }),
    `name: must NOT have more than ${CLIENT_NAME_MAX} characters`,
    'schema',
  ],
  [
    'a name with a control character',
    () => ({ ...base, name: 'a\nb' }),
    'name: must match pattern "^[^\\u0000-\\u001f\\u007f]*$"',
    'schema',
  ],
  [
    'a tenant name outside the rule',
    () => ({ ...base, tenant: 'Acme Bank' }),
    'tenant: must match pattern "^[a-z0-9][a-z0-9-]{0,62}$"',
    'schema',
  ],
  [
    'an unknown scope',
    () => ({ ...base, scopes: ['accounts:read', 'root'] }),
    'scopes.1: must be one of customers:read, customers:write, accounts:read, accounts:write, accounts:freeze, transfers:read, transfers:write, consents:read, consents:write, ledger:fund, webhooks:manage, audit:read, alerts:read, alerts:write, admin:clients, admin:users, admin:keys, scans:run, metrics:read, analytics:read',
    'schema',
  ],
  ['an unknown property', () => ({ ...base, is_admin: true }), 'client: unknown property "is_admin"', 'schema'],
  ['no scopes', () => ({ tenant: 'acme', name: 'x' }), 'client: missing property "scopes"', 'schema'],
  ['a blank name', () => ({ ...base, name: '   ' }), 'name: must not be blank', 'rule'],
  [
    'a FAPI client with a shared secret',
    () => ({ ...web(), auth_method: 'client_secret_basic', jwks: undefined }),
    'auth_method: an authorization_code (FAPI 2.0) client authenticates with private_key_jwt or tls_client_auth',
    'rule',
  ],
  [
    'a plain-http redirect URI',
    () => ({ ...web(), redirect_uris: ['http://app.acme.example/cb'] }),
    'redirect_uris.0: must use https',
    'rule',
  ],
  [
    'a redirect URI on a client_credentials client',
    () => ({ ...base, redirect_uris: ['https://app.acme.example/cb'] }),
    'redirect_uris: only for authorization_code clients',
    'rule',
  ],
  [
    'a private key in the JWK set',
    () => ({ ...web(), jwks: { keys: [privateJwk] } }),
    'jwks.keys.0: must be a public key (the client keeps its private key)',
    'rule',
  ],
  [
    'default scopes beyond the registered ones',
    () => ({ ...base, default_scopes: ['customers:read'] }),
    'default_scopes: must be among the registered scopes',
    'rule',
  ],
  [
    'mtls binding without tls_client_auth',
    () => ({ ...base, binding: 'mtls' }),
    'binding: mtls-bound tokens need tls_client_auth (the client presents its certificate)',
    'rule',
  ],
];

/** The gateway's detail for a schema refusal: the same words, the part named (`body`). */
const overHttp = (detail: string, where: 'schema' | 'rule') =>
  where === 'rule' ? detail : detail.startsWith('client:') ? detail.replace(/^client/, 'body') : `body.${detail}`;

const withoutUndefined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

describe('validateNewClient', () => {
  it('returns the client with its defaults: client_credentials, client_secret_basic, the read-only scopes', () => {
    expect(validateNewClient({ ...base, name: '  payouts  ' })).toEqual({
      ...base,
      name: 'payouts',
      grant: 'client_credentials',
      auth_method: 'client_secret_basic',
      default_scopes: ['accounts:read'],
    });
  });

  // @control FAPI2-AS-SENDER-CONSTRAINED, FAPI2-AS-CLIENT-AUTH
  it('an authorization_code client is FAPI: DPoP-bound unless it says mtls', () => {
    expect(validateNewClient(web())).toMatchObject({ grant: 'authorization_code', binding: 'dpop' });
  });

  it('the bootstrap admin client passes the same rules', () => {
    expect(validateNewClient(toNewClientBody(BOOTSTRAP_CLIENT))).toMatchObject({ tenant: 'platform', name: 'bootstrap-admin' });
  });

  it('`clients create --help` states the one name limit', () => {
    expect(SPECS.clientsCreate.options.name.help).toContain(`at most ${CLIENT_NAME_MAX} characters`);
  });

  it.each(CASES)('refuses %s', (_what, body, detail) => {
    expect(refusal(() => validateNewClient(withoutUndefined(body())))).toEqual({ code: 'validation_failed', detail });
  });
});

describe('the admin API, the CLI and the service refuse alike', () => {
  let s: TestServer;
  let admin: Awaited<ReturnType<TestServer['newClient']>>;
  beforeAll(async () => {
    s = await startTestServer('sqlite');
    admin = await s.newClient('platform', ['admin:clients']);
  });
  afterAll(async () => s?.close());

  it.each(CASES)('%s: 400 validation_failed with the same detail', async (_what, body, detail, where) => {
    const res = await s.http.call('/v1/admin/clients', { token: admin.token, body: withoutUndefined(body()) });
    expect({ status: res.status, code: res.body.code, detail: res.body.detail }).toEqual({
      status: 400,
      code: 'validation_failed',
      detail: overHttp(detail, where),
    });
  });

  it('nothing was registered by the refused requests', async () => {
    const res = await s.http.call('/v1/admin/clients', { token: admin.token });
    expect(res.body.data.filter((c: { tenant: string }) => c.tenant === 'acme')).toEqual([]);
  });

  it('the service (in-process callers) applies the same limit, once 200 characters', async () => {
    const err = await s.server.services.identity.clients.create({ ...base, name: 'n'.repeat(150) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'validation_failed', detail: `name: must NOT have more than ${CLIENT_NAME_MAX} characters` });
    const tenant = await s.server.services.identity.clients.create({ ...base, tenant: ' acme ' }).catch((e: unknown) => e);
    expect(tenant).toMatchObject({ code: 'validation_failed', detail: 'tenant: must match pattern "^[a-z0-9][a-z0-9-]{0,62}$"' });
  });

  it("the CLI prints the validator's detail as its one line", async () => {
    const run = (args: string[]) => cli(['clients', 'create', ...args], s.env);
    const long = await run(['--tenant', 'acme', '--name', 'n'.repeat(CLIENT_NAME_MAX + 1), '--scopes', 'accounts:read']);
    expect([long.code, long.stderr, long.stdout]).toEqual([
      2,
      `vaultgate: name: must NOT have more than ${CLIENT_NAME_MAX} characters\n`,
      '',
    ]);
    const fapi = await run([
      '--tenant',
      'acme',
      '--name',
      'web',
      '--scopes',
      'accounts:read',
      '--grant',
      'authorization_code',
      '--redirect-uri',
      'https://app.acme.example/cb',
    ]);
    expect([fapi.code, fapi.stderr]).toEqual([
      2,
      'vaultgate: auth_method: an authorization_code (FAPI 2.0) client authenticates with private_key_jwt or tls_client_auth\n',
    ]);
  });
});

const PASSWORD = 'correct horse battery staple';
const USER_CASES: Array<[string, Record<string, unknown>, string]> = [
  [
    'a tenant name outside the rule',
    { tenant: 'Acme', email: 'ada@acme.example', role: 'operator' },
    'tenant: must match pattern "^[a-z0-9][a-z0-9-]{0,62}$"',
  ],
  [
    'no e-mail address',
    { tenant: 'acme', email: 'ada.acme.example', role: 'operator' },
    'email: must match pattern "^[^\\s@]{1,64}@[^\\s@]{1,255}$"',
  ],
  [
    'an unknown role',
    { tenant: 'acme', email: 'ada@acme.example', role: 'root' },
    'role: must be one of customer, operator, auditor, admin',
  ],
  [
    'a customer id that is no id',
    { tenant: 'acme', email: 'ada@acme.example', customerId: 'cus_x' },
    'customerId: must match pattern "^cus_[0-9a-z]{26}$"',
  ],
  [
    'a customer user without its customer',
    { tenant: 'acme', email: 'ada@acme.example' },
    'customerId: a customer user needs a customer id (it sees only that customer)',
  ],
  [
    'an operator linked to a customer',
    { tenant: 'acme', email: 'ada@acme.example', role: 'operator', customerId: `cus_${'0'.repeat(26)}` },
    'customerId: only customer users are linked to a customer',
  ],
];

describe('validateNewUser', () => {
  it('returns the user with its role; the e-mail without surrounding white space', () => {
    expect(validateNewUser({ tenant: 'acme', email: ' ada@acme.example ', role: 'operator' })).toEqual({
      tenant: 'acme',
      email: 'ada@acme.example',
      role: 'operator',
    });
  });

  it.each(USER_CASES)('refuses %s', (_what, user, detail) => {
    expect(refusal(() => validateNewUser(user))).toEqual({ code: 'validation_failed', detail });
  });

  // @control PCI-8.3.6
  it('judges the password apart (the CLI reads it last)', () => {
    expect(validatePassword(PASSWORD)).toBe(PASSWORD);
    expect(refusal(() => validatePassword('short'))).toEqual({
      code: 'validation_failed',
      detail: 'password: must be 12 to 1024 characters',
    });
  });
});

describe('users create: the service and the CLI refuse alike', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('sqlite');
  });
  afterAll(async () => s?.close());

  it.each(USER_CASES)('%s', async (_what, user, detail) => {
    const err = await s.server.services.identity.users
      .create({ ...(user as { tenant: string; email: string }), password: PASSWORD })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'validation_failed', detail });
  });

  it('the CLI says it in one line, before reading the password', async () => {
    const res = await cli(
      ['users', 'create', '--tenant', 'Acme', '--email', 'ada@acme.example', '--role', 'operator', '--password-stdin'],
      s.env,
      `${PASSWORD}\n`,
    );
    expect([res.code, res.stderr, res.stdout]).toEqual([2, 'vaultgate: tenant: must match pattern "^[a-z0-9][a-z0-9-]{0,62}$"\n', '']);
    expect(await s.database.db.query('SELECT id FROM tenants WHERE name = $1', ['Acme'])).toEqual([]);
  });
});
