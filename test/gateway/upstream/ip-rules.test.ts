// Caller IP rules: CIDR and single-address lists in both families, IPv4-mapped IPv6 callers seen
// as IPv4, and malformed or inet_aton-style addresses never matched and never allowed.
import { describe, expect, it } from 'vitest';
import { compileIpList, compileIpRules, parseRange } from '../../../src/gateway/upstream/ip-rules.js';

describe('compileIpList', () => {
  const list = compileIpList(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', '::1']);

  it.each([
    ['10.0.0.1', true],
    ['10.255.255.255', true],
    ['11.0.0.1', false],
    ['192.0.2.7', true],
    ['192.0.2.8', false],
    ['2001:db8:1::5', true],
    ['2001:db9::1', false],
    ['::1', true],
    ['::2', false],
  ])('%s → %s', (ip, expected) => {
    expect(list.contains(ip)).toBe(expected);
  });

  it('sees an IPv4-mapped IPv6 caller as its IPv4 address', () => {
    expect(list.contains('::ffff:10.1.2.3')).toBe(true);
    expect(list.contains('::ffff:0a01:0203')).toBe(true);
    expect(list.contains('::ffff:192.0.2.8')).toBe(false);
  });

  it('accepts a list entry written in IPv4-mapped form', () => {
    const mapped = compileIpList(['::ffff:10.0.0.0/104']);
    expect(mapped.contains('10.9.9.9')).toBe(true);
    expect(mapped.contains('11.0.0.0')).toBe(false);
  });

  it.each(['', 'nope', '10', '0x0a.0.0.1', '010.0.0.1', '10.0.0', '10.0.0.1/8', '10.0.0.256', ':::1', '10.0.0.1 '])(
    'never matches the malformed address %j',
    (ip) => {
      expect(compileIpList(['0.0.0.0/0', '::/0']).contains(ip)).toBe(false);
    },
  );

  it('refuses a bad entry at compile time', () => {
    expect(() => compileIpList(['10.0.0.0/8', '10.0.0.0/33'])).toThrow('ip list: "10.0.0.0/33" has a prefix length out of range');
  });
});

describe('parseRange', () => {
  it.each([
    ['10.0.0.0/8', '10.0.0.0', 8],
    ['192.0.2.7', '192.0.2.7', 32],
    ['2001:db8::/32', '2001:db8::', 32],
    ['::1', '::1', 128],
    ['0.0.0.0/0', '0.0.0.0', 0],
  ])('%s is %s/%d', (text, addr, bits) => {
    const parsed = parseRange(text);
    expect('range' in parsed && [parsed.range[0].toString(), parsed.range[1]]).toEqual([addr, bits]);
  });

  it.each([
    ['10.1.2.3/8', '"10.1.2.3/8" has host bits set (did you mean 10.0.0.0/8?)'],
    ['2001:db8::1/32', '"2001:db8::1/32" has host bits set (did you mean 2001:db8::/32?)'],
    ['10.0.0.0/33', '"10.0.0.0/33" has a prefix length out of range'],
    ['::/129', '"::/129" has a prefix length out of range'],
    ['10.0.0.0/08', '"10.0.0.0/08" has a malformed prefix length'],
    ['10.0.0.0/', '"10.0.0.0/" has a malformed prefix length'],
    ['10/8', '"10/8" is not an IPv4/IPv6 address or CIDR'],
    ['example.com', '"example.com" is not an IPv4/IPv6 address or CIDR'],
  ])('refuses %s', (text, error) => {
    expect(parseRange(text)).toEqual({ error });
  });
});

describe('compileIpRules', () => {
  it('allows everything well-formed without an allow list, except the deny list', () => {
    const rules = compileIpRules({ deny: ['203.0.113.0/24'] });
    expect(rules.isAllowed('198.51.100.1')).toBe(true);
    expect(rules.isAllowed('2001:db8::1')).toBe(true);
    expect(rules.isAllowed('203.0.113.9')).toBe(false);
    expect(rules.isAllowed('::ffff:203.0.113.9')).toBe(false);
    expect(rules.isAllowed('not-an-ip')).toBe(false);
  });

  it('lets the deny list win over the allow list', () => {
    const rules = compileIpRules({ allow: ['10.0.0.0/8'], deny: ['10.6.6.0/24'] });
    expect(rules.isAllowed('10.1.1.1')).toBe(true);
    expect(rules.isAllowed('10.6.6.6')).toBe(false);
    expect(rules.isAllowed('192.168.0.1')).toBe(false);
  });

  it('allows nobody with an empty allow list', () => {
    expect(compileIpRules({ allow: [] }).isAllowed('10.0.0.1')).toBe(false);
  });
});
