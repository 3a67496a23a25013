// The stream hub on its own, with a fake response and controllable standing checks (the real
// server's behaviour is in stream-standing.test.ts): places are taken at admission, one standing
// check per token per tick, an event waits for a check that started after it arrived (never one
// that read the database before), events stay in order while they wait, and exp ends a stream.
import { EventEmitter } from 'node:events';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../src/errors.js';
import type { Alert } from '../../src/monitoring/alerts.js';
import { createStreamHub, type StreamHub, type StreamOptions } from '../../src/monitoring/sse.js';

/** A response that records what is written; `destroyed` plays a client that already left. */
class FakeResponse extends EventEmitter {
  written = '';
  status = 0;
  writableEnded = false;
  destroyed = false;
  writeHead(status: number) {
    this.status = status;
    return this;
  }
  write(chunk: string) {
    this.written += chunk;
    return true;
  }
  end() {
    this.writableEnded = true;
    this.emit('close');
  }
}

function fakeRequest() {
  const admission = {
    released: 0,
    release() {
      this.released++;
    },
  };
  const request = {
    id: 'req_1',
    method: 'GET',
    headers: {},
    routeOptions: { url: '/v1/alerts/stream' },
    principal: undefined,
    clientIp: '127.0.0.1',
    rateLimits: undefined,
    admission,
    log: { info: vi.fn(), warn: vi.fn() },
  };
  return { request: request as unknown as FastifyRequest, admission, log: request.log };
}

function fakeReply(res: FakeResponse) {
  return { hijack: vi.fn(), raw: res, getHeaders: () => ({}) } as unknown as FastifyReply;
}

const alert = (n: number) => ({ id: `alr_${String(n).padStart(26, '0')}`, tenant_id: 'ten_1', rule: 'large_transfer' }) as unknown as Alert;

/** A check whose answer the test gives, in the order the checks were asked. */
function deferredChecks() {
  const asked: Array<(ok: boolean) => void> = [];
  return {
    asked,
    stands: () => new Promise<boolean>((resolve) => asked.push(resolve)),
  };
}

const flush = () => new Promise<void>((r) => setImmediate(r));

describe('stream hub', () => {
  let listeners: Array<(message: string) => void>;
  let hub: StreamHub;
  const publish = (a: Alert) => listeners.forEach((l) => l(JSON.stringify(a)));

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'Date'] });
    listeners = [];
    hub = createStreamHub({
      subscribe: (l) => {
        listeners.push(l);
        return () => (listeners = listeners.filter((x) => x !== l));
      },
      heartbeatMs: 60_000,
      hsts: false,
      limits: { perClient: 2, max: 3 },
    });
  });
  afterEach(() => {
    hub.closeAll();
    vi.useRealTimers();
  });

  async function open(options: Partial<StreamOptions> & Pick<StreamOptions, 'stands'>, clientId = 'cli_a') {
    const res = new FakeResponse();
    const { request, admission, log } = fakeRequest();
    const slot = hub.admit(clientId);
    await hub.open(request, fakeReply(res), slot, {
      visible: () => true,
      missed: async () => [],
      tokenHash: 'tok_1',
      expiresAtMs: Date.now() + 600_000,
      ...options,
    });
    return { res, admission, log };
  }

  it('takes a place at admission: the cap holds before any stream opens, and a released place is free again', () => {
    const a = [hub.admit('cli_a'), hub.admit('cli_a')];
    const refused = (() => {
      try {
        hub.admit('cli_a');
      } catch (err) {
        return err;
      }
    })() as AppError;
    expect([refused.code, refused.status, refused.headers['Retry-After']]).toEqual(['too_many_streams', 429, '5']);
    hub.admit('cli_b');
    // The node is full (max 3), for a client with no stream too.
    expect(() => hub.admit('cli_c')).toThrow(AppError);
    a[0]!.release();
    a[0]!.release(); // idempotent
    expect(hub.size).toBe(2);
    expect(() => hub.admit('cli_a')).not.toThrow();
  });

  it('releases the request slot once the head is written; a client already gone frees its place', async () => {
    const { res, admission } = await open({ stands: async () => true });
    expect([res.status, res.written, admission.released]).toEqual([200, 'retry: 5000\n: connected\n\n', 1]);
    expect(hub.size).toBe(1);

    const left = new FakeResponse();
    left.destroyed = true;
    const { request } = fakeRequest();
    await hub.open(request, fakeReply(left), hub.admit('cli_a'), {
      visible: () => true,
      missed: async () => [],
      tokenHash: 't',
      expiresAtMs: Date.now() + 1e6,
      stands: async () => true,
    });
    expect([left.written, hub.size]).toEqual(['', 1]);
  });

  it('checks each token once per tick, however many streams it has', async () => {
    let calls = 0;
    const stands = async () => {
      calls++;
      return true;
    };
    await open({ stands });
    await open({ stands });
    await open({ stands, tokenHash: 'tok_2' }, 'cli_b');
    vi.advanceTimersByTime(1000);
    await flush();
    expect(calls).toBe(2);
  });

  it('an event never rides on a check that started before it arrived', async () => {
    const checks = deferredChecks();
    const { res, log } = await open({ stands: checks.stands });
    vi.advanceTimersByTime(1000); // the tick asks: still waiting on the database
    await flush();
    expect(checks.asked).toHaveLength(1);
    publish(alert(1)); // raised (say) after a revocation the pending check did not see
    await flush();
    expect(checks.asked).toHaveLength(2);
    checks.asked[0]!(true);
    await flush();
    expect(res.written).not.toContain('event: alert');
    checks.asked[1]!(false);
    await flush();
    expect(res.written).not.toContain('event: alert');
    expect(res.written).toContain('event: closed\ndata: {"reason":"token_no_longer_valid"}');
    expect(res.writableEnded).toBe(true);
    expect(log.info).toHaveBeenCalledWith(expect.objectContaining({ stream: true, ended: 'revoked' }), 'request');
    expect(hub.size).toBe(0);
  });

  it('keeps events in order while they wait for their checks', async () => {
    const checks = deferredChecks();
    const { res } = await open({ stands: checks.stands });
    publish(alert(1));
    await flush();
    publish(alert(2));
    publish(alert(3));
    await flush();
    checks.asked[0]!(true);
    await flush();
    // Events 2 and 3 arrived after the first check started: they get one fresh check of their own.
    expect(checks.asked).toHaveLength(2);
    checks.asked[1]!(true);
    await flush();
    expect([...res.written.matchAll(/id: (alr_\d+)/g)].map((m) => Number(m[1]!.slice(4)))).toEqual([1, 2, 3]);
  });

  it('ends a stream at its exp, with a timer', async () => {
    const { res } = await open({ stands: async () => true, expiresAtMs: Date.now() + 2500 });
    vi.advanceTimersByTime(2499);
    await flush();
    expect(res.writableEnded).toBe(false);
    vi.advanceTimersByTime(1);
    expect(res.written).toContain('event: closed\ndata: {"reason":"token_expired"}');
    expect(res.writableEnded).toBe(true);
  });

  it('fails closed when the check itself fails (no "closed" event: the client may reconnect)', async () => {
    const { res } = await open({ stands: async () => Promise.reject(new Error('database down')) });
    vi.advanceTimersByTime(1000);
    await flush();
    expect(res.writableEnded).toBe(true);
    expect(res.written).not.toContain('event: closed');
  });

  it('counts a check that never answers as failed (a hung database does not keep streams open)', async () => {
    const { res } = await open({ stands: () => new Promise<boolean>(() => undefined) });
    vi.advanceTimersByTime(1000);
    await flush();
    vi.advanceTimersByTime(4999);
    await flush();
    expect(res.writableEnded).toBe(false);
    vi.advanceTimersByTime(1);
    await flush();
    expect(res.writableEnded).toBe(true);
    expect(hub.size).toBe(0);
  });
});
