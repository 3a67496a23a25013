// SSRF guard for outgoing webhook deliveries. A webhook URL is chosen by a caller, so without
// this guard the platform would fetch whatever it names: the cloud metadata service, a database
// on the internal network, the gateway's own admin port. The URL is checked statically at
// registration; at each delivery its host is resolved once, every answer must be a public
// address, and the connection is pinned to the checked address (`pinnedLookup`), so a second DNS
// answer (rebinding) can never redirect it. Following redirects is the HTTP client's job to
// refuse. `webhooks.allow_private_cidrs` / `allow_http` open exceptions for on-premise receivers.
import { lookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { compileIpList, parseAddress, type IpList } from '../gateway/upstream/ip-rules.js';

export interface WebhookNetworkPolicy {
  allowHttp: boolean;
  /** CIDRs (IPv4 or IPv6) a receiver may be in although they are not public. */
  allowPrivateCidrs: readonly string[];
}

export type Resolver = (hostname: string) => Promise<Array<{ address: string; family: 4 | 6 }>>;

type Refusal = { ok: false; reason: string };

const MAX_URL_LENGTH = 2048;
// Whitespace and control characters are silently dropped or re-encoded by the URL parser; in a
// security-relevant URL they only hide what the caller meant, so they are refused instead.
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused here
const CONTROL_OR_SPACE = /[\u0000-\u0020\u007f]/;
// Only global unicast (2000::/3) is reachable on the public IPv6 internet.
const IPV6_GLOBAL_UNICAST = ipaddr.IPv6.parseCIDR('2000::/3');
// Translation prefixes that carry an IPv4 address, which is what the packet finally reaches.
const NAT64 = ipaddr.IPv6.parseCIDR('64:ff9b::/96');
const SIX_TO_FOUR = ipaddr.IPv6.parseCIDR('2002::/16');

/** Static checks of a webhook URL at registration; the URL returned is the one to store. */
export function checkWebhookUrl(url: string, policy: WebhookNetworkPolicy): { ok: true; url: URL } | Refusal {
  if (url.length > MAX_URL_LENGTH) return refuse('url_too_long');
  if (CONTROL_OR_SPACE.test(url) || !URL.canParse(url)) return refuse('malformed_url');
  // The parser refuses an http(s) URL without a host, so a parsed one always has a hostname.
  const parsed = new URL(url);
  if (parsed.href.length > MAX_URL_LENGTH) return refuse('url_too_long');
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && policy.allowHttp)) return refuse('not_https');
  if (parsed.username !== '' || parsed.password !== '') return refuse('credentials_in_url');
  // `hash` is empty for a bare trailing '#' too; any '#' left in the serialization starts a fragment.
  if (parsed.href.includes('#')) return refuse('fragment_in_url');
  // The parser refuses ports above 65535; the default port is elided, leaving only 0 to refuse.
  if (parsed.port === '0') return refuse('invalid_port');
  const literal = literalAddress(parsed);
  if (literal !== undefined && !addressAllowed(literal, policy)) return refuse('address_not_allowed');
  return { ok: true, url: parsed };
}

/** Whether a delivery may connect to `address`: public unicast, or inside an allowed CIDR. */
export function addressAllowed(address: string, policy: WebhookNetworkPolicy): boolean {
  return isAllowed(address, compileIpList(policy.allowPrivateCidrs));
}

function isAllowed(address: string, exceptions: IpList): boolean {
  // parseAddress turns ::ffff:a.b.c.d into a.b.c.d: on a dual-stack socket it is that address.
  const addr = parseAddress(address);
  if (addr === undefined) return false;
  if (exceptions.contains(address)) return true;
  if (addr instanceof ipaddr.IPv4) return addr.range() === 'unicast';
  const embedded = embeddedIPv4(addr);
  if (embedded !== undefined) return isAllowed(embedded, exceptions);
  return addr.range() === 'unicast' && addr.match(IPV6_GLOBAL_UNICAST);
}

function embeddedIPv4(addr: ipaddr.IPv6): string | undefined {
  const bytes = addr.toByteArray();
  if (addr.match(NAT64)) return new ipaddr.IPv4(bytes.slice(12)).toString();
  if (addr.match(SIX_TO_FOUR)) return new ipaddr.IPv4(bytes.slice(2, 6)).toString();
  return undefined;
}

/** The host of `url` when it is an IP address (brackets of IPv6 stripped), else undefined. */
function literalAddress(url: URL): string | undefined {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return isIP(host) === 0 ? undefined : host;
}

export const systemResolver: Resolver = async (hostname) => {
  const answers = await lookup(hostname, { all: true, verbatim: true });
  return answers.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));
};

/**
 * The address a delivery connects to. The host is resolved once and refused when any answer is
 * not allowed: a name answering a public and a private address is a rebinding attempt, and
 * which one a client would pick is not ours to guess. The static checks run again, as the
 * policy may have changed since registration.
 */
export async function resolveDeliveryTarget(
  url: URL,
  policy: WebhookNetworkPolicy,
  resolve: Resolver = systemResolver,
): Promise<{ ok: true; address: string; family: 4 | 6 } | Refusal> {
  const checked = checkWebhookUrl(url.href, policy);
  if (!checked.ok) return checked;
  const literal = literalAddress(url);
  if (literal !== undefined) return { ok: true, address: literal, family: isIP(literal) === 6 ? 6 : 4 };
  let answers: Awaited<ReturnType<Resolver>>;
  try {
    answers = await resolve(url.hostname);
  } catch {
    return refuse('dns_lookup_failed');
  }
  const first = answers[0];
  if (first === undefined) return refuse('dns_no_answer');
  const exceptions = compileIpList(policy.allowPrivateCidrs);
  if (!answers.every(({ address }) => isAllowed(address, exceptions))) return refuse('address_not_allowed');
  return { ok: true, address: first.address, family: first.family };
}

/**
 * A `lookup` for net/tls.connect (and undici's `connect` options) that always answers the
 * checked address: the socket goes where the guard looked, while TLS SNI and certificate
 * verification still use the URL's hostname.
 */
export function pinnedLookup(address: string, family: 4 | 6): LookupFunction {
  return (_hostname, options, callback) => {
    // Asynchronous like dns.lookup: net attaches its listeners after calling lookup.
    process.nextTick(() => {
      if (options.all === true) callback(null, [{ address, family }]);
      else callback(null, address, family);
    });
  };
}

function refuse(reason: string): Refusal {
  return { ok: false, reason };
}
