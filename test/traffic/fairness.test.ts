// Fairness before capacity (penetration-test finding): one address holding requests it never
// lets finish — HTTP/2 streams whose flow-control window it keeps at 0, or request bodies it
// trickles — takes only its own share of the in-flight cap; a caller on another address
// (127.0.0.2) is served normally meanwhile. Stalled HTTP/2 responses are reset and their slots
// freed. Real server, real node:http2 and TLS clients on loopback.
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { request as httpsRequest } from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { writeConfig } from './support.js';

const MAX_IN_FLIGHT = 40;
const PER_ADDRESS = 20;
const PER_SESSION = 8;
const STALL_SECONDS = 2;

interface Answer {
  status: number;
  code: string | undefined;
}

function connect(s: TestServer, ca: Buffer, localAddress: string, settings: http2.Settings = {}): Promise<http2.ClientHttp2Session> {
  const { port } = new URL(s.url);
  return new Promise((resolve, reject) => {
    // localAddress reaches net.connect (the source address); the http2 types do not list it.
    const options: http2.SecureClientSessionOptions & { localAddress: string } = { ca, servername: 'localhost', localAddress, settings };
    const session = http2.connect(`https://127.0.0.1:${port}`, options);
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });
}

/** A GET whose answer is read in full. */
function get(session: http2.ClientHttp2Session, pathname: string, token?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': pathname, ...(token ? { authorization: `Bearer ${token}` } : {}) });
    let status = 0;
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      let code: string | undefined;
      try {
        code = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { code?: string }).code;
      } catch {
        code = undefined;
      }
      resolve({ status, code });
    });
    stream.on('error', reject);
    stream.end();
  });
}

/**
 * A stream the attacker never reads: its window is 0 (SETTINGS_INITIAL_WINDOW_SIZE), so not one
 * byte of the body can be sent. Resolves with the status once headers arrive (headers are not
 * flow-controlled), and `reset` resolves with the RST_STREAM code the server sends.
 */
function holdOpen(session: http2.ClientHttp2Session, pathname: string) {
  const stream = session.request({ ':path': pathname });
  stream.on('error', () => undefined);
  const status = new Promise<number>((resolve) => stream.once('response', (h) => resolve(Number(h[':status']))));
  const reset = new Promise<number>((resolve) => stream.once('close', () => resolve(stream.rstCode ?? -1)));
  stream.end();
  return { status, reset };
}

describe('fairness: one address cannot take the whole in-flight cap', () => {
  let s: TestServer;
  let ca: Buffer;
  let token: string;
  beforeAll(async () => {
    s = await startTestServer('sqlite', {
      VAULTGATE_CONFIG: writeConfig(`
rate_limits:
  shedding: { max_in_flight: ${MAX_IN_FLIGHT}, per_address: ${PER_ADDRESS}, per_session: ${PER_SESSION}, stall_seconds: ${STALL_SECONDS} }
  timeouts: { headers_seconds: 10, request_seconds: 20 }
`),
    });
    ca = readFileSync(path.join(s.dataDir, 'dev-tls-cert.pem'));
    token = (await s.newClient('acme', ['accounts:read'])).token;
  });
  afterAll(async () => s?.close());

  it('HTTP/2 streams held at window 0 from 127.0.0.1 take only their share; 127.0.0.2 is served; the stalled streams are reset', async () => {
    // 5 sessions × 20 streams = 100 requests from one address, more than the whole cap (40).
    const sessions = await Promise.all(Array.from({ length: 5 }, () => connect(s, ca, '127.0.0.1', { initialWindowSize: 0 })));
    try {
      const held = sessions.flatMap((session) => Array.from({ length: 20 }, () => holdOpen(session, '/openapi.json')));
      const statuses = await Promise.all(held.map((h) => h.status));
      // Admitted: at most PER_SESSION per connection and PER_ADDRESS in all; the rest told 429 at once.
      expect(statuses.filter((x) => x === 200).length).toBe(PER_ADDRESS);
      expect(statuses.filter((x) => x === 429).length).toBe(100 - PER_ADDRESS);

      // Another address is served while the attacker holds its share: the API and the token endpoint.
      const other = await connect(s, ca, '127.0.0.2');
      try {
        expect(await get(other, '/openapi.json')).toMatchObject({ status: 200 });
        expect(await get(other, '/v1/accounts', token)).toEqual({ status: 200, code: undefined });
      } finally {
        other.close();
      }
      // The attacker's own address is at its share: a new request of its own is refused.
      const fresh = await connect(s, ca, '127.0.0.1');
      try {
        expect(await get(fresh, '/openapi.json')).toEqual({ status: 429, code: 'rate_limited' });
        // After the stall bound every stalled stream is reset (RST_STREAM CANCEL) and its slot freed.
        const codes = await Promise.all(held.map((h) => h.reset));
        expect(new Set(codes)).toEqual(new Set([http2.constants.NGHTTP2_CANCEL]));
        expect(await get(fresh, '/openapi.json')).toMatchObject({ status: 200 });
      } finally {
        fresh.close();
      }
    } finally {
      for (const session of sessions) session.destroy();
    }
  });

  it('slow request bodies from 127.0.0.1 count against its share; 127.0.0.2 still gets tokens', async () => {
    const client = await s.newClient('acme', ['accounts:read']);
    const basic = `Basic ${Buffer.from(`${client.clientId}:${client.secret}`).toString('base64')}`;
    const body = 'grant_type=client_credentials&scope=accounts:read';
    const { port } = new URL(s.url);
    const requests: Array<ReturnType<typeof httpsRequest>> = [];
    const post = (localAddress: string, trickle: boolean) =>
      new Promise<Answer>((resolve, reject) => {
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port,
            servername: 'localhost',
            ca,
            localAddress,
            method: 'POST',
            path: '/oauth/token',
            agent: false,
            headers: {
              authorization: basic,
              'content-type': 'application/x-www-form-urlencoded',
              'content-length': String(Buffer.byteLength(body)),
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              let code: string | undefined;
              try {
                code = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { code?: string }).code;
              } catch {
                code = undefined;
              }
              resolve({ status: res.statusCode ?? 0, code });
            });
          },
        );
        requests.push(req);
        req.on('error', (err) => (trickle ? undefined : reject(err)));
        // The attacker sends its headers and one byte of a body it never finishes.
        if (trickle) req.write(body.slice(0, 1));
        else req.end(body);
      });
    const total = MAX_IN_FLIGHT + 10;
    const slow = Array.from({ length: total }, () => post('127.0.0.1', true));
    try {
      // Every request beyond the address's share is refused at once, before its body is read.
      const early = await new Promise<Answer[]>((resolve) => {
        const got: Answer[] = [];
        for (const p of slow)
          void p.then((r) => {
            got.push(r);
            if (got.length === total - PER_ADDRESS) resolve(got);
          });
      });
      expect(early).toEqual(Array.from({ length: total - PER_ADDRESS }, () => ({ status: 429, code: 'rate_limited' })));
      expect((await post('127.0.0.2', false)).status).toBe(200);
    } finally {
      for (const req of requests) req.destroy();
    }
  });
});
