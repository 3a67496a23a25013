// Header hygiene at the gateway boundary (docs/contract.md §6), both directions. The upstream
// must not see the caller's credentials, nor any forwarding or identity header the caller made up:
// identity travels only in the X-Vaultgate-Assertion we sign, and forwarding facts only in the
// headers we set. The caller must not see the upstream's connection management or software banner.

/** Node's IncomingHttpHeaders and undici's response headers both fit this shape. */
export type HeaderRecord = Readonly<Record<string, string | string[] | undefined>>;
export type OutgoingHeaders = Record<string, string | string[]>;

// Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection, never the next one. Proxy-Connection
// is the legacy non-standard one; HTTP2-Settings only means something on an h2c upgrade.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'http2-settings',
]);

// Credentials for vaultgate, not for the upstream (it gets the assertion instead). Host is the
// upstream's own; Content-Length is recomputed by the HTTP client from the body it streams;
// undici refuses Expect, and the gateway answers 100-continue itself.
const REQUEST_DROPPED = new Set(['authorization', 'dpop', 'cookie', 'host', 'content-length', 'expect', 'x-real-ip', 'forwarded']);
const REQUEST_DROPPED_PREFIXES = ['proxy-', 'x-forwarded-', 'x-vaultgate-'];

// Software banners help an attacker pick exploits. Content-Length stays: the body is relayed byte
// for byte (no re-chunking, no re-encoding), so the upstream's length is still true, and a HEAD
// answer or a download keeps its size. Whoever replaces a body (mask_errors) must drop it.
const RESPONSE_DROPPED = new Set(['server', 'x-powered-by']);
const RESPONSE_DROPPED_PREFIXES = ['x-vaultgate-'];

export interface ForwardContext {
  requestId: string;
  /** The caller's address as vaultgate resolved it (socket, or trusted proxy). */
  clientIp: string;
  proto: 'http' | 'https';
  /** The Host the caller addressed (authority, may carry a port). */
  host: string;
  /** The signed identity assertion; undefined on a public route without a token. */
  assertion: string | undefined;
}

/** Every header the Connection header names is hop-by-hop too (RFC 9110 §7.6.1). */
function connectionTokens(headers: HeaderRecord): Set<string> {
  const tokens = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() !== 'connection' || value === undefined) continue;
    for (const line of Array.isArray(value) ? value : [value]) {
      for (const token of line.split(',')) if (token.trim() !== '') tokens.add(token.trim().toLowerCase());
    }
  }
  return tokens;
}

function filter(headers: HeaderRecord, drop: (name: string) => boolean): OutgoingHeaders {
  const named = connectionTokens(headers);
  const out: OutgoingHeaders = {};
  for (const [rawName, value] of Object.entries(headers)) {
    const name = rawName.toLowerCase();
    // ':'-names are HTTP/2 pseudo-headers: they belong to the frame, not to the next hop.
    if (value === undefined || name.startsWith(':') || HOP_BY_HOP.has(name) || named.has(name) || drop(name)) continue;
    const previous = out[name];
    // Two spellings of one name (Foo, foo) in one record are merged, never overwritten.
    out[name] = previous === undefined ? value : [...[previous].flat(), ...[value].flat()];
  }
  return out;
}

const startsWithAny = (name: string, prefixes: readonly string[]) => prefixes.some((p) => name.startsWith(p));

// RFC 7239 §4: a value that is not a token is a quoted-string; an IPv6 address is bracketed and
// therefore always quoted (for="[2001:db8::1]").
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
function forwardedValue(value: string): string {
  return TOKEN.test(value) ? value : `"${value.replace(/["\\]/g, '\\$&')}"`;
}

export function upstreamRequestHeaders(inbound: HeaderRecord, ctx: ForwardContext): OutgoingHeaders {
  const out = filter(inbound, (name) => REQUEST_DROPPED.has(name) || startsWithAny(name, REQUEST_DROPPED_PREFIXES));
  // Set after filtering, so no inbound header (not even via Connection) can remove or replace them.
  const node = ctx.clientIp.includes(':') ? `[${ctx.clientIp}]` : ctx.clientIp;
  out['x-request-id'] = ctx.requestId;
  out.forwarded = `for=${forwardedValue(node)};proto=${ctx.proto};host=${forwardedValue(ctx.host)}`;
  out['x-forwarded-for'] = ctx.clientIp;
  out['x-forwarded-proto'] = ctx.proto;
  out['x-forwarded-host'] = ctx.host;
  if (ctx.assertion !== undefined) out['x-vaultgate-assertion'] = ctx.assertion;
  return out;
}

export function callerResponseHeaders(upstream: HeaderRecord): OutgoingHeaders {
  return filter(upstream, (name) => RESPONSE_DROPPED.has(name) || startsWithAny(name, RESPONSE_DROPPED_PREFIXES));
}
