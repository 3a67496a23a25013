// The `gateway:` section of VAULTGATE_CONFIG (docs/contract.md §6): the upstream services and the
// routes in front of them. Two passes: a TypeBox schema for the shape (unknown keys, types,
// ranges), then the rules no schema states (URLs, files, CIDRs, scopes, references between
// sections, prefix clashes). Unlike the other sections, every mistake is collected and reported at
// once, one line each starting with its dotted path: a route table is edited in bulk, and fixing
// it one start at a time would be tedious. The result is frozen; the same parse serves a reload.
import { readFileSync, statSync } from 'node:fs';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import path from 'node:path';
import Type, { type Static, type TObject } from 'typebox';
import { Settings } from 'typebox/system';
import { Value } from 'typebox/value';
import { ConfigError } from '../../errors.js';
import { Strict, StringEnum } from '../schemas.js';
import { parseRange } from './ip-rules.js';
import { loadUpstreamApi, type UpstreamApi } from './openapi.js';

// TRACE and CONNECT are not proxied: one reflects credentials (XST), the other opens a tunnel.
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

const MIB = 1024 * 1024;
const DEFAULT_METHODS: readonly HttpMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
const NAME = /^[a-z][a-z0-9-]{0,31}$/;
const SCOPE = /^[a-z][a-z_]*:[a-z_]+$/;

// `errorMessage` is ours, not JSON Schema's: the line a config mistake on that node gets.
const Int = (minimum: number, maximum: number) =>
  Type.Integer({ minimum, maximum, errorMessage: `must be an integer ${minimum}..${maximum}` });
const File = Type.String({ minLength: 1, errorMessage: 'must be a file path' });
const Permission = Type.String({
  pattern: `^(public|${SCOPE.source.slice(1, -1)})$`,
  errorMessage: 'must be public or a scope like kyc:read ([a-z][a-z_]*:[a-z_]+)',
});

const UpstreamSchema = Strict({
  url: Type.String({ errorMessage: 'must be an http(s) URL' }),
  timeout_ms: Type.Optional(Int(1, 600_000)),
  connect_timeout_ms: Type.Optional(Int(1, 60_000)),
  retries: Type.Optional(Int(0, 5)),
  circuit_breaker: Type.Optional(Strict({ failures: Type.Optional(Int(1, 1000)), reset_seconds: Type.Optional(Int(1, 3600)) })),
  ca: Type.Optional(File),
  client_certificate: Type.Optional(Strict({ cert: File, key: File })),
});

const RouteSchema = Strict({
  prefix: Type.String({ errorMessage: "must be a path starting and ending with '/'" }),
  upstream: Type.String({ errorMessage: 'must name an upstream' }),
  strip_prefix: Type.Optional(Type.Boolean()),
  methods: Type.Optional(
    Type.Array(StringEnum(HTTP_METHODS, { errorMessage: `must be one of ${HTTP_METHODS.join(', ')}` }), {
      minItems: 1,
      uniqueItems: true,
      errorMessage: 'must be a non-empty list of distinct upper-case methods',
    }),
  ),
  permission: Permission,
  write_permission: Type.Optional(Permission),
  rate_limit: Type.Optional(Type.String({ errorMessage: 'must name a route class' })),
  body_limit_bytes: Type.Optional(Int(1, 64 * MIB)),
  openapi: Type.Optional(File),
  allow_ips: Type.Optional(Type.Array(Type.String(), { errorMessage: 'must be a list of CIDRs' })),
  mask_errors: Type.Optional(Type.Boolean()),
});

const GatewaySchema = Strict({
  upstreams: Type.Optional(Type.Record(Type.String(), UpstreamSchema)),
  routes: Type.Optional(Type.Array(RouteSchema)),
  deny_ips: Type.Optional(Type.Array(Type.String(), { errorMessage: 'must be a list of CIDRs' })),
});

/** The section as written in YAML (snake_case, defaults not applied). */
export type RawGateway = Static<typeof GatewaySchema>;
type RawUpstream = Static<typeof UpstreamSchema>;
type RawRoute = Static<typeof RouteSchema>;

/** Shaped to be handed to createUpstreamClient as its UpstreamTarget. */
export interface UpstreamSettings {
  readonly name: string;
  /** scheme://host[:port] */
  readonly origin: string;
  /** '' or '/base' (no trailing slash). */
  readonly basePath: string;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly retries: number;
  readonly circuitBreaker: { readonly failures: number; readonly resetSeconds: number };
  /** Extra CA and client certificate (PEM), read at parse time; undefined for plain defaults. */
  readonly tls: { readonly ca: Buffer | undefined; readonly cert: Buffer | undefined; readonly key: Buffer | undefined } | undefined;
}

export interface UpstreamRouteSettings {
  /** Starts and ends with '/'. */
  readonly prefix: string;
  readonly upstream: string;
  readonly stripPrefix: boolean;
  /** HEAD is added whenever GET is there. */
  readonly methods: readonly HttpMethod[];
  /** `public` or a scope; for GET and HEAD. */
  readonly permission: string;
  /** For the other methods. */
  readonly writePermission: string;
  readonly rateLimit: string | undefined;
  readonly bodyLimitBytes: number;
  /** The upstream's OpenAPI document (absolute path) compiled into its checks. */
  readonly openapi: { readonly file: string; readonly api: UpstreamApi } | undefined;
  readonly allowIps: readonly string[] | undefined;
  readonly maskErrors: boolean;
}

export interface GatewaySettings {
  readonly upstreams: Readonly<Record<string, UpstreamSettings>>;
  readonly routes: readonly UpstreamRouteSettings[];
  readonly denyIps: readonly string[];
}

export const EMPTY_GATEWAY_SETTINGS: GatewaySettings = Object.freeze({
  upstreams: Object.freeze({}),
  routes: Object.freeze([]),
  denyIps: Object.freeze([]),
});

export interface GatewayParseOptions {
  /** Directory of the config file: relative file paths are resolved against it. */
  baseDir: string;
  /** Paths vaultgate serves itself; no route may shadow them or sit under them. */
  reservedPrefixes: readonly string[];
  /** Route classes of rate_limits. */
  rateLimitClasses: readonly string[];
}

const ROOT = 'gateway';

// ---- pass 1: the shape ---------------------------------------------------------------------

/** JSON pointer (/routes/1/methods/0) → dotted path (gateway.routes[1].methods[0]), array-aware. */
function dotted(pointer: string, value: unknown): string {
  let out = ROOT;
  let node = value;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += Array.isArray(node) ? `[${key}]` : `.${key}`;
    node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  }
  return out;
}

function schemaAt(schemaPath: string): Record<string, unknown> | undefined {
  let node: unknown = GatewaySchema;
  for (const raw of schemaPath
    .replace(/^#\/?/, '')
    .split('/')
    .filter((s) => s !== '')) {
    node =
      node !== null && typeof node === 'object'
        ? (node as Record<string, unknown>)[raw.replace(/~1/g, '/').replace(/~0/g, '~')]
        : undefined;
  }
  return node !== null && typeof node === 'object' ? (node as Record<string, unknown>) : undefined;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'must be a string',
  integer: 'must be an integer',
  number: 'must be a number',
  boolean: 'must be true or false',
  array: 'must be a list',
  object: 'must be a mapping',
};

function shapeIssues(raw: unknown): string[] {
  // TypeBox buffers 8 errors by default (a DoS guard for untrusted input); a config file is
  // trusted and should be reported whole. Synchronous, so nothing else runs under this setting.
  const saved = Settings.Get().maxErrors;
  Settings.Set({ maxErrors: 10_000 });
  try {
    const lines: string[] = [];
    for (const e of Value.Errors(GatewaySchema, raw)) {
      const at = dotted(e.instancePath, raw);
      const node = schemaAt(e.schemaPath);
      const params = e.params as { requiredProperties?: string[]; additionalProperties?: string[]; type?: string };
      if (e.keyword === 'required') for (const k of params.requiredProperties ?? []) lines.push(`${at}.${k}: required`);
      else if (e.keyword === 'additionalProperties') {
        const allowed = Object.keys((node?.properties as object | undefined) ?? {}).join(', ');
        for (const k of params.additionalProperties ?? []) lines.push(`${at}.${k}: unknown key (allowed: ${allowed})`);
      } else if (e.keyword === 'boolean')
        continue; // the same unknown key again, seen from the `false` schema
      else if (typeof node?.errorMessage === 'string') lines.push(`${at}: ${node.errorMessage}`);
      else lines.push(`${at}: ${(e.keyword === 'type' && TYPE_WORDS[params.type ?? '']) || 'is not valid'}`);
    }
    return [...new Set(lines)];
  } finally {
    Settings.Set({ maxErrors: saved });
  }
}

// ---- pass 2: the rules between and beyond fields ---------------------------------------------

const FS_REASONS: Record<string, string> = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'is a directory' };

function reason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? (FS_REASONS[code] ?? code) : 'unreadable';
}

class Issues {
  readonly lines: string[] = [];
  add(where: string, why: string): void {
    this.lines.push(`${where}: ${why}`);
  }

  /** The file's bytes, or undefined after one line saying why not. */
  read(where: string, baseDir: string, file: string): Buffer | undefined {
    const abs = path.resolve(baseDir, file);
    try {
      return readFileSync(abs);
    } catch (err) {
      this.add(where, `cannot read ${abs} (${reason(err)})`);
      return undefined;
    }
  }
}

function parseUrl(text: string): { origin: string; basePath: string } | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be an absolute http(s) URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must use http or https';
  if (url.username !== '' || url.password !== '') return 'must not carry credentials';
  // Checked on the text: URL drops an empty '?' or '#', which still shows a misunderstanding.
  if (text.includes('?') || text.includes('#')) return 'must not have a query or fragment';
  return { origin: url.origin, basePath: url.pathname.replace(/\/+$/, '') };
}

function upstreamOf(name: string, u: Partial<RawUpstream>, where: string, issues: Issues, baseDir: string): UpstreamSettings | undefined {
  if (!NAME.test(name)) issues.add(where, `name must match ${NAME.source.slice(1, -1)}`);
  const url = u.url === undefined ? undefined : parseUrl(u.url);
  if (typeof url === 'string') issues.add(`${where}.url`, url);
  if (typeof url === 'object' && url.origin.startsWith('http:')) {
    // Over plain HTTP they would be ignored, and the operator would believe the hop is protected.
    if (u.ca !== undefined) issues.add(`${where}.ca`, 'only applies to an https url');
    if (u.client_certificate !== undefined) issues.add(`${where}.client_certificate`, 'only applies to an https url');
  }
  const timeoutMs = u.timeout_ms ?? 5000;
  const connectTimeoutMs = u.connect_timeout_ms ?? 1000;
  if (connectTimeoutMs > timeoutMs) issues.add(`${where}.connect_timeout_ms`, `must not exceed timeout_ms (${timeoutMs})`);

  let ca: Buffer | undefined;
  if (u.ca !== undefined) {
    ca = issues.read(`${where}.ca`, baseDir, u.ca);
    if (ca !== undefined && !isCertificate(ca)) issues.add(`${where}.ca`, 'is not a PEM certificate');
  }
  let cert: Buffer | undefined;
  let key: Buffer | undefined;
  if (u.client_certificate !== undefined) {
    const w = `${where}.client_certificate`;
    cert = issues.read(`${w}.cert`, baseDir, u.client_certificate.cert);
    key = issues.read(`${w}.key`, baseDir, u.client_certificate.key);
    // A broken pair would otherwise surface as a TLS failure on the first proxied request.
    if (cert !== undefined && key !== undefined) {
      const problem = pairProblem(cert, key);
      if (problem !== undefined) issues.add(w, problem);
    }
  }
  if (typeof url !== 'object') return undefined;
  return Object.freeze({
    name,
    origin: url.origin,
    basePath: url.basePath,
    timeoutMs,
    connectTimeoutMs,
    retries: u.retries ?? 1,
    circuitBreaker: Object.freeze({ failures: u.circuit_breaker?.failures ?? 5, resetSeconds: u.circuit_breaker?.reset_seconds ?? 30 }),
    // Buffers cannot be frozen; the object holding them is.
    tls: ca === undefined && cert === undefined ? undefined : Object.freeze({ ca, cert, key }),
  });
}

function isCertificate(pem: Buffer): boolean {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}

function pairProblem(cert: Buffer, key: Buffer): string | undefined {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    return 'cert is not a PEM certificate';
  }
  try {
    return x509.checkPrivateKey(createPrivateKey(key)) ? undefined : 'key does not belong to cert';
  } catch {
    return 'key is not an unencrypted PEM private key';
  }
}

function checkPrefix(prefix: string, where: string, issues: Issues, reserved: readonly string[]): void {
  if (!prefix.startsWith('/') || !prefix.endsWith('/')) {
    issues.add(where, "must start and end with '/' (e.g. /kyc/)");
    return;
  }
  // Only plain path segments: '.', '..', '//' or encoded bytes would match differently after the
  // router's normalization than they read here.
  const segments = prefix.slice(1, -1).split('/');
  if (prefix !== '/' && segments.some((s) => !/^[A-Za-z0-9_~!$&'()*+,;=:@.-]+$/.test(s) || s === '.' || s === '..')) {
    issues.add(where, 'must be made of plain path segments (no //, ., .., %, ? or #)');
    return;
  }
  // Either direction: /v1/kyc/ would sit under vaultgate's /v1/, and / would swallow all of it.
  const clash = reserved.find((r) => prefix.startsWith(r) || r.startsWith(prefix));
  if (clash !== undefined) issues.add(where, `${prefix} overlaps vaultgate's own ${clash}`);
}

function checkRoute(r: Partial<RawRoute>, where: string, issues: Issues, known: readonly string[], options: GatewayParseOptions) {
  if (r.prefix !== undefined) checkPrefix(r.prefix, `${where}.prefix`, issues, options.reservedPrefixes);
  if (r.upstream !== undefined && !known.includes(r.upstream)) {
    issues.add(`${where}.upstream`, `unknown upstream "${r.upstream}" (known: ${known.join(', ') || 'none'})`);
  }
  if (r.rate_limit !== undefined && !options.rateLimitClasses.includes(r.rate_limit)) {
    issues.add(`${where}.rate_limit`, `unknown route class "${r.rate_limit}" (known: ${options.rateLimitClasses.join(', ') || 'none'})`);
  }
  let openapi: UpstreamRouteSettings['openapi'];
  if (r.openapi !== undefined) {
    const file = path.resolve(options.baseDir, r.openapi);
    try {
      if (!statSync(file).isFile()) issues.add(`${where}.openapi`, `cannot read ${file} (not a file)`);
      else openapi = { file, api: loadUpstreamApi(file) };
    } catch (err) {
      // A file-system error has a code; a document that does not compile says why in its message.
      const unreadable = typeof (err as { code?: unknown }).code === 'string';
      issues.add(`${where}.openapi`, unreadable ? `cannot read ${file} (${reason(err)})` : `${file} ${(err as Error).message}`);
    }
  }
  (r.allow_ips ?? []).forEach((entry, j) => {
    const parsed = parseRange(entry);
    if ('error' in parsed) issues.add(`${where}.allow_ips[${j}]`, parsed.error);
  });
  return openapi;
}

function routeSettings(r: RawRoute, openapi: UpstreamRouteSettings['openapi']): UpstreamRouteSettings {
  const methods = [...(r.methods ?? DEFAULT_METHODS)];
  // RFC 9110 §9.3.2: HEAD is GET without the body; a route that answers GET answers HEAD.
  if (methods.includes('GET') && !methods.includes('HEAD')) methods.splice(methods.indexOf('GET') + 1, 0, 'HEAD');
  return Object.freeze({
    prefix: r.prefix,
    upstream: r.upstream,
    stripPrefix: r.strip_prefix ?? false,
    methods: Object.freeze(methods),
    permission: r.permission,
    writePermission: r.write_permission ?? r.permission,
    rateLimit: r.rate_limit,
    bodyLimitBytes: r.body_limit_bytes ?? MIB,
    openapi,
    allowIps: r.allow_ips === undefined ? undefined : Object.freeze([...r.allow_ips]),
    maskErrors: r.mask_errors ?? true,
  });
}

const isMapping = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The fields of `value` that pass their own schema: pass 2 checks those even when others are broken. */
function validFields<T extends TObject>(schema: T, value: unknown): Partial<Static<T>> {
  const out: Record<string, unknown> = {};
  if (!isMapping(value)) return out as Partial<Static<T>>;
  for (const [k, s] of Object.entries(schema.properties)) if (value[k] !== undefined && Value.Check(s, value[k])) out[k] = value[k];
  return out as Partial<Static<T>>;
}

export function parseGatewayConfig(raw: unknown, options: GatewayParseOptions): GatewaySettings {
  if (raw === undefined || raw === null) return EMPTY_GATEWAY_SETTINGS;
  const issues = new Issues();
  issues.lines.push(...shapeIssues(raw));
  const g = isMapping(raw) ? raw : {};

  // Pass 2 looks at every part whose own shape is right, so one start reports both kinds of mistake.
  const upstreams: Record<string, UpstreamSettings> = {};
  const rawUpstreams = isMapping(g.upstreams) ? g.upstreams : {};
  for (const [name, u] of Object.entries(rawUpstreams)) {
    const parsed = upstreamOf(name, validFields(UpstreamSchema, u), `${ROOT}.upstreams.${name}`, issues, options.baseDir);
    if (parsed !== undefined) upstreams[name] = parsed;
  }

  // Every name written counts as known, even a broken one: it already has its own error line.
  const known = Object.keys(rawUpstreams);
  const routes: UpstreamRouteSettings[] = [];
  const firstByPrefix = new Map<string, number>();
  (Array.isArray(g.routes) ? (g.routes as unknown[]) : []).forEach((item, i) => {
    const where = `${ROOT}.routes[${i}]`;
    const r = validFields(RouteSchema, item);
    if (r.prefix !== undefined) {
      // Longest prefix wins, so nesting is fine; the same prefix twice has no winner.
      const first = firstByPrefix.get(r.prefix);
      if (first !== undefined) issues.add(`${where}.prefix`, `duplicate prefix ${r.prefix} (routes[${first}])`);
      else firstByPrefix.set(r.prefix, i);
    }
    const openapi = checkRoute(r, where, issues, known, options);
    if (Value.Check(RouteSchema, item)) routes.push(routeSettings(item, openapi));
  });

  const denyIps = Array.isArray(g.deny_ips) ? (g.deny_ips as unknown[]) : [];
  denyIps.forEach((entry, j) => {
    if (typeof entry !== 'string') return;
    const parsed = parseRange(entry);
    if ('error' in parsed) issues.add(`${ROOT}.deny_ips[${j}]`, parsed.error);
  });

  if (issues.lines.length > 0) throw new ConfigError(issues.lines.join('\n'));
  return Object.freeze({
    upstreams: Object.freeze(upstreams),
    routes: Object.freeze(routes),
    denyIps: Object.freeze(denyIps as string[]),
  });
}

/** Every scope the routes name: they become registrable for clients (docs/contract.md §6). */
export function gatewayScopes(settings: GatewaySettings): string[] {
  const scopes = new Set<string>();
  for (const r of settings.routes) for (const p of [r.permission, r.writePermission]) if (p !== 'public') scopes.add(p);
  return [...scopes].sort();
}
