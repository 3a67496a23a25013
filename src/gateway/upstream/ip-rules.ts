// Caller IP rules of the gateway: the global `deny_ips` and a route's `allow_ips`. Lists are
// parsed once (at config load) into address ranges, so a request only pays for a few byte
// comparisons. Parsing is strict on purpose: ipaddr.js alone also accepts "10", "0x0a.1" or
// "010.1.1.1" (inet_aton forms), which in a security list hide what the operator meant.
import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;
export type IpRange = readonly [Address, number];

/** One address in its canonical form, or undefined when it is not a plain IPv4/IPv6 address. */
export function parseAddress(text: string): Address | undefined {
  let addr: Address;
  if (text.includes(':')) {
    if (!ipaddr.IPv6.isValid(text)) return undefined;
    addr = ipaddr.IPv6.parse(text);
  } else {
    if (!ipaddr.IPv4.isValidFourPartDecimal(text)) return undefined;
    addr = ipaddr.IPv4.parse(text);
  }
  // A dual-stack socket reports IPv4 callers as ::ffff:a.b.c.d; rules are written in IPv4.
  return addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() ? (addr as ipaddr.IPv6).toIPv4Address() : addr;
}

/** The network address of `addr`/`bits` (host bits zeroed). */
function network(addr: Address, bits: number): Address {
  const bytes = addr.toByteArray().map((b, i) => {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    return b & ((0xff << (8 - keep)) & 0xff);
  });
  return ipaddr.fromByteArray(bytes);
}

/**
 * A CIDR (`10.0.0.0/8`, `2001:db8::/32`) or a single address (as /32 or /128). Returns the range,
 * or a reason fit for a config error line. Host bits set (`10.1.2.3/8`) are refused: such an
 * entry is usually a typo for a narrower range, and silently widening it would over-allow.
 */
export function parseRange(text: string): { range: IpRange } | { error: string } {
  const slash = text.indexOf('/');
  const addr = parseAddress(slash === -1 ? text : text.slice(0, slash));
  if (addr === undefined) return { error: `"${text}" is not an IPv4/IPv6 address or CIDR` };
  const max = addr.kind() === 'ipv4' ? 32 : 128;
  if (slash === -1) return { range: [addr, max] };
  const suffix = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(suffix)) return { error: `"${text}" has a malformed prefix length` };
  let bits = Number(suffix);
  // ::ffff:10.0.0.0/104 was turned into 10.0.0.0 above; its prefix length follows it.
  const mapped = addr.kind() === 'ipv4' && text.slice(0, slash).includes(':');
  if (mapped) bits -= 96;
  if (bits < 0 || bits > max) return { error: `"${text}" has a prefix length out of range` };
  const net = network(addr, bits);
  if (net.toString() !== addr.toString()) return { error: `"${text}" has host bits set (did you mean ${net.toString()}/${bits}?)` };
  return { range: [addr, bits] };
}

export interface IpList {
  /** True when `ip` lies in one of the list's ranges; a malformed address is in none. */
  contains(ip: string): boolean;
}

/** Compiles a list once; a bad entry is a programming error here (config validation comes first). */
export function compileIpList(list: readonly string[]): IpList {
  const ranges = list.map((entry) => {
    const parsed = parseRange(entry);
    if ('error' in parsed) throw new Error(`ip list: ${parsed.error}`);
    return parsed.range;
  });
  return {
    contains(ip) {
      const addr = parseAddress(ip);
      if (addr === undefined) return false;
      // match() throws across families, so compare kinds first.
      return ranges.some(([net, bits]) => net.kind() === addr.kind() && addr.match(net, bits));
    },
  };
}

export interface IpRules {
  isAllowed(ip: string): boolean;
}

/**
 * The deny list wins over the allow list; no allow list means every (well-formed) address.
 * A malformed address is never allowed: it can only come from a bug or a forged header.
 */
export function compileIpRules(rules: { allow?: readonly string[] | undefined; deny?: readonly string[] | undefined }): IpRules {
  const allow = rules.allow === undefined ? undefined : compileIpList(rules.allow);
  const deny = compileIpList(rules.deny ?? []);
  return {
    isAllowed(ip) {
      if (parseAddress(ip) === undefined || deny.contains(ip)) return false;
      return allow === undefined || allow.contains(ip);
    },
  };
}
