// The admission shares on the real module: per address, per HTTP/2 session and per client, each
// refused before a process-wide slot is taken, and every slot freed exactly once on release.
import { expect, it } from 'vitest';
import { createAdmission, type Admission } from '../../src/gateway/throttle/admission.js';
import { loadConfig } from '../../src/config.js';
import { createLoadShedder } from '../../src/gateway/throttle/load-shedder.js';
import { writeConfig } from './support.js';

function setup(maxInFlight: number) {
  const shedder = createLoadShedder({ maxInFlight, maxEventLoopDelayMs: 60_000 });
  const admission = createAdmission(shedder, { perAddress: 3, perSession: 2, perClient: 2 });
  const admitted = (a: Admission | string): Admission => {
    if (typeof a === 'string') throw new Error(`refused: ${a}`);
    return a;
  };
  return { shedder, admission, admitted };
}

it('an address takes at most its share; a refused share takes no process-wide slot', () => {
  const { shedder, admission, admitted } = setup(100);
  try {
    const held = [1, 2, 3].map(() => admitted(admission.admit('10.0.0.1', undefined)));
    expect(admission.admit('10.0.0.1', undefined)).toBe('address');
    expect(shedder.inFlight()).toBe(3);
    expect(admitted(admission.admit('10.0.0.2', undefined))).toBeDefined();
    held[0]!.release();
    held[0]!.release(); // idempotent
    expect(admission.inFlight('10.0.0.1')).toBe(2);
    expect(shedder.inFlight()).toBe(3);
    expect(typeof admission.admit('10.0.0.1', undefined)).toBe('object');
  } finally {
    shedder.close();
  }
});

it('an HTTP/2 session takes at most its share, and the address slot it took is given back', () => {
  const { shedder, admission, admitted } = setup(100);
  try {
    const session = {};
    admitted(admission.admit('10.0.0.1', session));
    admitted(admission.admit('10.0.0.1', session));
    expect(admission.admit('10.0.0.1', session)).toBe('session');
    expect(admission.inFlight('10.0.0.1')).toBe(2);
    expect(typeof admission.admit('10.0.0.1', {})).toBe('object');
  } finally {
    shedder.close();
  }
});

it('the process-wide cap still holds, and gives back the shares of what it refuses', () => {
  const { shedder, admission, admitted } = setup(2);
  try {
    admitted(admission.admit('10.0.0.1', undefined));
    admitted(admission.admit('10.0.0.2', undefined));
    expect(admission.admit('10.0.0.3', undefined)).toBe('overloaded');
    expect(admission.inFlight('10.0.0.3')).toBe(0);
  } finally {
    shedder.close();
  }
});

it('a client takes at most its share across addresses; release frees it', () => {
  const { shedder, admission, admitted } = setup(100);
  try {
    const a = admitted(admission.admit('10.0.0.1', undefined));
    const b = admitted(admission.admit('10.0.0.2', undefined));
    const c = admitted(admission.admit('10.0.0.3', undefined));
    expect([a.joinClient('cli_1'), b.joinClient('cli_1'), c.joinClient('cli_1')]).toEqual([true, true, false]);
    a.release();
    expect(c.joinClient('cli_1')).toBe(true);
  } finally {
    shedder.close();
  }
});

it('the shares, stream caps and connection limits are configured strictly, with their defaults', () => {
  const load = (yaml: string) => loadConfig({ VAULTGATE_CONFIG: writeConfig(yaml) }).rateLimits;
  const d = load('rate_limits: {}\n');
  expect([d.shedding.perAddress, d.shedding.perSession, d.shedding.perClient, d.shedding.stallMs]).toEqual([256, 64, 256, 10_000]);
  expect([d.streams, d.connections]).toEqual([
    { perClient: 5, max: 1000 },
    { max: 4096, perAddress: 256 },
  ]);
  expect(load('rate_limits:\n  streams: { per_client: 2 }\n  connections: { per_address: 9 }\n').streams).toEqual({
    perClient: 2,
    max: 1000,
  });
  expect(() => load('rate_limits:\n  shedding: { per_address: 0 }\n')).toThrow(
    'VAULTGATE_CONFIG: rate_limits.shedding.per_address: must be an integer 1..1000000',
  );
  expect(() => load('rate_limits:\n  streams: { per_client: 5000 }\n')).toThrow(
    'VAULTGATE_CONFIG: rate_limits.streams.per_client: must be an integer 1..1000',
  );
  expect(() => load('rate_limits:\n  connections: { per_ip: 5 }\n')).toThrow(
    'VAULTGATE_CONFIG: rate_limits.connections.per_ip: unknown key (allowed: max, per_address)',
  );
});
