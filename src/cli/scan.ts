// `vaultgate scan`: the security audit of docs/contract.md §8. Without --target it audits the
// local platform (throwaway clients registered in its database, tokens from its token endpoint,
// probes from its /openapi.json, all revoked afterwards); with --upstream NAME a service behind the
// gateway, through its route, from the route's openapi: document; with --target any HTTP API from its
// OpenAPI document and the tokens given. Exit 0: nothing at or above --fail-on; 1: something; 2:
// bad usage or a target that cannot be scanned.
import { closeSync, fchmodSync, openSync, readFileSync, writeSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { selectChecks, runScan } from '../scan/engine.js';
import { BudgetExhausted, createScanHttp, type ScanHttp } from '../scan/http.js';
import { DocumentError, isObject, parseDocument } from '../scan/openapi.js';
import { FORMATS, renderReport, type ReportFormat } from '../scan/report/index.js';
import { DEFAULT_RATE, type ScanTarget } from '../scan/target.js';
import { SEVERITIES, atLeast, type ScanReport, type Severity } from '../scan/types.js';
import type { Config } from '../config.js';
import { withUpstreamOperations } from '../gateway/upstream/openapi-listing.js';
import { SPECS } from './commands.js';
import { CliError, openEnvironment, type CommandContext } from './context.js';
import { parseOptions } from './options.js';

const DEFAULT_MAX_REQUESTS = 2000;

interface ScanArgs {
  target: URL | undefined;
  upstream: string | undefined;
  openapi: string | undefined;
  tokens: { a?: string; b?: string; low?: string };
  format: ReportFormat;
  out: string | undefined;
  failOn: Severity | 'none';
  maxRequests: number;
}

function parseTarget(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError('--target must be an http(s) URL such as https://api.example.com');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new CliError('--target must be an http(s) URL such as https://api.example.com');
  if (url.username || url.password) throw new CliError('--target must not carry credentials (give tokens with --token-a/--token-b)');
  if (url.search || url.hash) throw new CliError('--target is a base URL: no query string or fragment');
  return url;
}

export function parseScanArgs(args: string[], ctx: CommandContext): ScanArgs {
  const { values } = parseOptions(SPECS.scan, args);
  const format = values.format ?? (ctx.json ? 'json' : 'markdown');
  if (!(FORMATS as readonly string[]).includes(format)) throw new CliError(`--format must be one of ${FORMATS.join(', ')}`);
  if (ctx.json && format !== 'json') throw new CliError('--json is --format json: give one or the other');
  const failOn = values['fail-on'] ?? 'high';
  if (failOn !== 'none' && !(SEVERITIES as readonly string[]).includes(failOn))
    throw new CliError('--fail-on must be high, medium, low or none');
  const raw = values['max-requests'];
  const maxRequests = raw === undefined ? DEFAULT_MAX_REQUESTS : Number(raw);
  if (!/^[1-9][0-9]{0,6}$/.test(raw ?? '1')) throw new CliError('--max-requests must be an integer 1..9999999');
  const tokens = { a: values['token-a'], b: values['token-b'], low: values['token-low'] };
  const target = values.target === undefined ? undefined : parseTarget(values.target);
  if (target && values.upstream !== undefined) throw new CliError('--target and --upstream go separately: one target per scan');
  if (values.upstream !== undefined && !/^[a-z][a-z0-9-]{0,31}$/.test(values.upstream))
    throw new CliError('--upstream names an upstream of gateway.upstreams (a-z, 0-9, -)');
  if (!target && (values.openapi !== undefined || tokens.a || tokens.b || tokens.low)) {
    throw new CliError('--openapi and --token-* go with --target (the scan of the local platform makes its own principals)');
  }
  if ((tokens.a === undefined) !== (tokens.b === undefined))
    throw new CliError("--token-a and --token-b go together: two principals who must not see each other's objects");
  return {
    target,
    upstream: values.upstream,
    openapi: values.openapi,
    tokens: Object.fromEntries(Object.entries(tokens).filter(([, v]) => v !== undefined)),
    format: format as ReportFormat,
    out: values.out,
    failOn: failOn as Severity | 'none',
    maxRequests,
  };
}

/** The OpenAPI document of a --target: a URL (fetched once) or a file, JSON or YAML. */
async function loadDocument(http: ScanHttp, target: URL, source: string | undefined): Promise<unknown> {
  const where = source ?? new URL(`${target.pathname.replace(/\/+$/, '')}/openapi.json`, target).toString();
  let text: string;
  if (/^https?:\/\//i.test(where)) {
    const url = new URL(where);
    // A document on another origin is fetched by a client of its own, once: the scan's client talks to the target only.
    const client = url.origin === http.origin ? http : createScanHttp({ baseUrl: url.origin, maxRequests: 1, requestsPerSecond: 0 });
    const res = await client.send({ method: 'GET', url: url.toString(), headers: { accept: 'application/json, application/yaml' } });
    if (client !== http) await client.close();
    if (res.status === 0) throw new CliError(`cannot reach ${url.origin} (${res.error ?? 'no answer'})`);
    if (res.status !== 200)
      throw new CliError(`the OpenAPI document at ${url.toString()} answered HTTP ${res.status} (give it with --openapi URL|FILE)`);
    text = res.text;
  } else {
    try {
      text = readFileSync(where, 'utf8');
    } catch {
      throw new CliError(`cannot read the OpenAPI document ${where}`);
    }
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text) as unknown;
  } catch {
    try {
      doc = parseYaml(text) as unknown;
    } catch {
      doc = undefined;
    }
  }
  try {
    parseDocument(doc);
  } catch (err) {
    if (err instanceof DocumentError) throw new CliError(`${source ?? where}: ${err.message}`);
    throw err;
  }
  return doc;
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as unknown;
    return isObject(pkg) && typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function write(file: string, text: string): void {
  // 0600 even over an existing file: a report tells an attacker where to look.
  const fd = openSync(file, 'w', 0o600);
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/** A line for the operator from the local platform's setup (it is not running, it refused the scan's client). */
class Unscannable extends Error {}

async function scanLocal(args: ScanArgs, signal: AbortSignal): Promise<{ report: ScanReport; documentUri: string }> {
  // Loaded here only: it brings the authorization server, which a --target scan never needs.
  const { PlatformUnavailable } = await import('../scan/local-platform.js');
  const { scanLocalPlatform } = await import('../scan/local-scan.js');
  const env = await openEnvironment();
  try {
    const upstream = args.upstream === undefined ? undefined : upstreamScan(env.config, env.issuer, args.upstream);
    const report = await scanLocalPlatform(env, { maxRequests: args.maxRequests, signal, ...(upstream ? { upstream } : {}) }).catch(
      (err: unknown) => {
        throw err instanceof PlatformUnavailable ? new Unscannable(err.message) : err;
      },
    );
    return { report, documentUri: upstream?.documentUri ?? `${env.issuer}/openapi.json` };
  } finally {
    await env.db.close();
  }
}

/** The gateway route to an upstream that has an OpenAPI document: where to scan it, from what, with which scopes. */
function upstreamScan(config: Readonly<Config>, issuer: string, name: string) {
  const route = config.gateway.routes.find((r) => r.upstream === name && r.openapi !== undefined);
  if (route?.openapi === undefined) {
    const known = [...new Set(config.gateway.routes.filter((r) => r.openapi).map((r) => r.upstream))];
    throw new CliError(`no gateway route to "${name}" has an openapi: document (routes with one: ${known.join(', ') || 'none'})`);
  }
  const scopes = [...new Set([route.permission, route.writePermission])].filter((s) => s !== 'public');
  // The operations as callers see them (vaultgate's /openapi.json lists them so): at the caller's
  // paths, each with the route's scope as its security requirement, which the checks read.
  const document = withUpstreamOperations(
    {
      openapi: '3.1.0',
      info: { title: `${name} behind vaultgate`, version: '1' },
      paths: {},
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    { ...config.gateway, routes: [route] },
    scopes,
  );
  return {
    baseUrl: issuer,
    document,
    // A and B need some scope to mint a token; a wholly public route gets a harmless read one.
    scopes: scopes.length > 0 ? scopes : ['alerts:read'],
    documentUri: route.openapi.file,
  };
}

async function scanTarget(args: ScanArgs, target: URL, signal: AbortSignal): Promise<{ report: ScanReport; documentUri: string }> {
  const baseUrl = target.toString().replace(/\/+$/, '');
  const http = createScanHttp({ baseUrl, maxRequests: args.maxRequests, requestsPerSecond: DEFAULT_RATE, signal });
  try {
    const document = await loadDocument(http, target, args.openapi);
    const scanTarget: ScanTarget = { baseUrl, document, tokens: args.tokens };
    const report = await runScan(scanTarget, { maxRequests: args.maxRequests, http, signal });
    return { report, documentUri: args.openapi ?? `${baseUrl}/openapi.json` };
  } finally {
    await http.close();
  }
}

export async function scanCommand(args: string[], ctx: CommandContext): Promise<number> {
  const parsed = parseScanArgs(args, ctx);
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let result: { report: ScanReport; documentUri: string };
  try {
    result = parsed.target ? await scanTarget(parsed, parsed.target, controller.signal) : await scanLocal(parsed, controller.signal);
  } catch (err) {
    if (err instanceof Unscannable) throw new CliError(err.message);
    if (err instanceof BudgetExhausted) throw new CliError(`--max-requests ${parsed.maxRequests} does not even cover the scan's setup`);
    throw err;
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
  if (controller.signal.aborted) throw new CliError('scan interrupted; the clients it registered were revoked');
  const { report, documentUri } = result;
  const text = renderReport(report, parsed.format, selectChecks(undefined), { documentUri, version: version() });
  if (parsed.out) {
    write(parsed.out, text);
    if (!ctx.json) {
      const n = (s: Severity) => report.findings.filter((f) => f.severity === s).length;
      process.stdout.write(
        `scan report written to ${parsed.out}: ${report.findings.length} finding(s) (${SEVERITIES.map((s) => `${n(s)} ${s}`).join(', ')}), ${report.requests_sent} requests\n`,
      );
    }
  } else {
    process.stdout.write(text);
  }
  const failing = parsed.failOn !== 'none' && report.findings.some((f) => atLeast(f.severity, parsed.failOn as Severity));
  return failing ? 1 : 0;
}
