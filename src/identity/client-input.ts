// A new OAuth client, as the admin API's body, the CLI and the bootstrap give it: ONE schema (the
// route validates its body against it) and ONE validator (the same schema, then the rules across
// fields a schema cannot say). Every caller refuses the same input with the same detail.
import { Ajv, type ValidateFunction } from 'ajv';
import Type, { type Static, type TSchema } from 'typebox';
import { AppError } from '../errors.js';
import { StringEnum, Strict } from '../gateway/schemas.js';
import { describeValidationError } from '../gateway/validation.js';
import { ALL_SCOPES } from '../lib/principal.js';
import { tenantNameSchema } from '../tenants/tenant-name.js';
import type { CreateClientInput } from './types.js';

/** One limit for a client's name everywhere (HTTP, CLI, service); `clients create --help` says it too. */
export const CLIENT_NAME_MAX = 100;
export const GRANTS = ['client_credentials', 'authorization_code'] as const;
export const AUTH_METHODS = ['client_secret_basic', 'private_key_jwt', 'tls_client_auth'] as const;
export const BINDINGS = ['dpop', 'mtls'] as const;
export type Binding = (typeof BINDINGS)[number];

/** A set of API permissions (at least `minItems`) out of `registrable`. */
const scopeListOf = (registrable: readonly string[], minItems: number) =>
  Type.Array(StringEnum(registrable), { minItems, maxItems: registrable.length, uniqueItems: true });

function newClientSchemaFor(registrable: readonly string[]) {
  return Strict({
    tenant: tenantNameSchema,
    // Printable text: names end up in logs, CLI output and admin screens.
    name: Type.String({ minLength: 1, maxLength: CLIENT_NAME_MAX, pattern: '^[^\\u0000-\\u001f\\u007f]*$' }),
    scopes: scopeListOf(registrable, 1),
    grant: Type.Optional(StringEnum(GRANTS)),
    redirect_uris: Type.Optional(Type.Array(Type.String({ maxLength: 2000 }), { minItems: 1, maxItems: 10 })),
    auth_method: Type.Optional(StringEnum(AUTH_METHODS)),
    jwks: Type.Optional(
      Strict({ keys: Type.Array(Type.Unsafe<Record<string, unknown>>({ type: 'object' }), { minItems: 1, maxItems: 10 }) }),
    ),
    tls_subject: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    binding: Type.Optional(StringEnum(BINDINGS)),
    default_scopes: Type.Optional(scopeListOf(registrable, 0)),
  });
}

/**
 * The rules of a new client for one set of registrable scopes: the platform's own, plus those that
 * the gateway's upstream routes name (docs/contract.md §6), known once the configuration is read.
 * One schema and one validator per set; the module-level exports below are the platform's set.
 */
export function createClientRules(registrable: readonly string[]) {
  const newClientSchema = newClientSchemaFor(registrable);
  const checkShape = schemaCheck(newClientSchema, 'client');
  const checkScopeList = schemaCheck(Strict({ scopes: scopeListOf(registrable, 1) }), 'scopes');
  const known = new Set(registrable);

  return {
    registrable,
    isRegistrable: (scope: string): boolean => known.has(scope),
    scopeListSchema: (minItems: number) => scopeListOf(registrable, minItems),
    newClientSchema,
    /** The one validator of a new client: returns it with its defaults, or throws validation_failed `<field>: <why>`. */
    validateNewClient: (value: unknown): NewClient => checkRules(checkShape(value)),
    /** A client's new set of scopes (PUT …/scopes, setScopes). Repeats are dropped, as in registration. */
    validateScopes: (scopes: unknown): string[] => checkScopeList({ scopes: unique(scopes) }).scopes,
  };
}

export type ClientRules = ReturnType<typeof createClientRules>;

/** The platform's scopes and those the gateway's routes name, each once. */
export const registrableScopes = (gatewayScopes: readonly string[] = []): string[] => [...new Set([...ALL_SCOPES, ...gatewayScopes])];

/** The admin API's body (snake_case, as on the wire). */
export type NewClientBody = Static<ReturnType<typeof newClientSchemaFor>>;

/** A body that passed every rule, its defaults filled in: what the service registers. */
export type NewClient = NewClientBody & Required<Pick<NewClientBody, 'grant' | 'auth_method' | 'default_scopes'>>;

/** An end-user (authorization_code) client is a FAPI 2.0 client. */
export const isFapi = (c: Pick<NewClientBody, 'grant'>): boolean => c.grant === 'authorization_code';

/**
 * The smallest useful default (least privilege): a token request without `scope` gets the
 * client's read-only permissions; a client with none of those must always name its scopes.
 */
export function defaultScopesFor<S extends string>(scopes: readonly S[]): S[] {
  return scopes.filter((s) => s.endsWith(':read'));
}

// The gateway's body options that matter here: strict schemas, no coercion, the first error only.
const ajv = new Ajv({ strict: true, coerceTypes: false, allErrors: false });

/** A check of `value` against `schema`, refusing with the gateway's wording minus its `body.` prefix. */
export function schemaCheck<T extends TSchema>(schema: T, root: string): (value: unknown) => Static<T> {
  const validate: ValidateFunction = ajv.compile(schema);
  return (value) => {
    if (validate(value)) return value as Static<T>;
    // "body.name: …" over HTTP is "name: …" here; a whole-object error names the object.
    const text = describeValidationError(validate.errors ?? undefined, 'body');
    throw new AppError('validation_failed', text.startsWith('body.') ? text.slice('body.'.length) : text.replace(/^body/, root));
  };
}

function invalid(detail: string): never {
  throw new AppError('validation_failed', detail);
}

function checkRedirectUri(u: string, field: string): void {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    invalid(`${field}: must be an absolute URL`);
  }
  if (url.protocol !== 'https:') invalid(`${field}: must use https`);
  if (url.hash || u.includes('#')) invalid(`${field}: must not have a fragment`);
  if (/\s/.test(u)) invalid(`${field}: must not contain white space`);
}

/** The client keeps its private key: a JWK set registered here holds public keys only. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'priv'];

/** The rules across fields a schema cannot say, over a body of the right shape. */
function checkRules(body: NewClientBody): NewClient {
  const name = body.name.trim();
  if (name === '') invalid('name: must not be blank');
  const grant = body.grant ?? 'client_credentials';
  const authMethod = body.auth_method ?? 'client_secret_basic';
  // FAPI 2.0: strong client authentication and sender-constrained tokens, no exceptions.
  const fapi = isFapi({ grant });
  const binding = body.binding ?? (fapi ? 'dpop' : undefined);
  if (fapi && authMethod === 'client_secret_basic') {
    invalid('auth_method: an authorization_code (FAPI 2.0) client authenticates with private_key_jwt or tls_client_auth');
  }
  if (binding === 'mtls' && authMethod !== 'tls_client_auth')
    invalid('binding: mtls-bound tokens need tls_client_auth (the client presents its certificate)');
  const defaultScopes = body.default_scopes ?? defaultScopesFor(body.scopes);
  if (defaultScopes.some((s) => !body.scopes.includes(s))) invalid('default_scopes: must be among the registered scopes');

  if (fapi && body.redirect_uris === undefined) invalid('redirect_uris: an authorization_code client needs at least one redirect URI');
  if (!fapi && body.redirect_uris !== undefined) invalid('redirect_uris: only for authorization_code clients');
  body.redirect_uris?.forEach((u, i) => checkRedirectUri(u, `redirect_uris.${i}`));

  if (authMethod === 'private_key_jwt' && body.jwks === undefined)
    invalid('jwks: private_key_jwt needs a JWK set with at least one public key');
  if (authMethod !== 'private_key_jwt' && body.jwks !== undefined) invalid('jwks: only for private_key_jwt clients');
  body.jwks?.keys.forEach((k, i) => {
    if (PRIVATE_MEMBERS.some((p) => p in k)) invalid(`jwks.keys.${i}: must be a public key (the client keeps its private key)`);
  });

  const tlsSubject = body.tls_subject?.trim();
  if (authMethod === 'tls_client_auth' && !tlsSubject) invalid('tls_subject: tls_client_auth needs the certificate subject DN');
  if (authMethod !== 'tls_client_auth' && body.tls_subject !== undefined) invalid('tls_subject: only for tls_client_auth clients');

  return {
    ...body,
    name,
    grant,
    auth_method: authMethod,
    default_scopes: defaultScopes,
    ...(binding ? { binding } : {}),
    ...(tlsSubject ? { tls_subject: tlsSubject } : {}),
  };
}

// In-process callers (the CLI, the bootstrap, tests) speak CreateClientInput, camelCase; the
// mapping both ways is here so the body stays the one definition.

/** Scope lists are sets: a repeated scope is dropped, not refused (as the service always did). */
const unique = (v: unknown): unknown => (Array.isArray(v) ? [...new Set(v)] : v);

/** The body a CreateClientInput stands for (unchecked: validateNewClient judges it). */
export function toNewClientBody(input: CreateClientInput): unknown {
  if (typeof input !== 'object' || input === null) return input;
  const { redirectUris, authMethod, tlsSubject, defaultScopes, ...rest } = input;
  const body: Record<string, unknown> = { ...rest, scopes: unique(rest.scopes) };
  // An empty list of redirect URIs means none (the HTTP body simply leaves the field out).
  if (redirectUris !== undefined && !(Array.isArray(redirectUris) && redirectUris.length === 0)) body.redirect_uris = redirectUris;
  if (authMethod !== undefined) body.auth_method = authMethod;
  if (tlsSubject !== undefined) body.tls_subject = tlsSubject;
  if (defaultScopes !== undefined) body.default_scopes = unique(defaultScopes);
  // A field set to undefined is a field left out, as in JSON.
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
}

/** The service's input for a body (validated by the route's schema, or by validateNewClient). */
export function toCreateClientInput(body: NewClientBody): CreateClientInput {
  return {
    tenant: body.tenant,
    name: body.name,
    scopes: body.scopes,
    ...(body.grant ? { grant: body.grant } : {}),
    ...(body.redirect_uris ? { redirectUris: body.redirect_uris } : {}),
    ...(body.auth_method ? { authMethod: body.auth_method } : {}),
    ...(body.jwks ? { jwks: body.jwks } : {}),
    ...(body.tls_subject ? { tlsSubject: body.tls_subject } : {}),
    ...(body.binding ? { binding: body.binding } : {}),
    ...(body.default_scopes ? { defaultScopes: body.default_scopes } : {}),
  };
}

// Last: it compiles the schemas with the module's Ajv instance above.
/** The platform's own scopes only (no gateway routes): the CLI without a configuration, and tests. */
export const platformClientRules: ClientRules = createClientRules(ALL_SCOPES);
export const { newClientSchema, scopeListSchema, validateNewClient, validateScopes } = platformClientRules;
