// The upstream client against real upstream servers on loopback: plain HTTP, HTTPS verified with a
// test CA, and mTLS with a client certificate. Streaming both ways, the total timeout, retries
// only for idempotent requests without a body, the body limit while streaming, and the gateway's
// own errors (never a library message). The caller's faults (a body that stalls, outgrows the
// limit or is abandoned) are told apart from the upstream's.
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { createServer as createNet, type AddressInfo, type Server as NetServer } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import selfsigned from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors.js';
import { createUpstreamClient, type UpstreamTarget } from '../../../src/gateway/upstream/client.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function listen(server: NetServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

const read = async (body: Readable) => {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

const target = (origin: string, extra: Partial<UpstreamTarget> = {}): UpstreamTarget => ({
  name: 'kyc',
  origin,
  basePath: '',
  timeoutMs: 2000,
  connectTimeoutMs: 500,
  retries: 1,
  ...extra,
});

async function refusal(p: Promise<unknown>): Promise<{ code: string; status: number }> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return { code: (err as AppError).code, status: (err as AppError).status };
  }
  throw new Error('expected a refusal');
}

describe('upstream client over plain HTTP', () => {
  let server: Server;
  let origin: string;
  const hits = new Map<string, number>();
  let release: () => void = () => undefined;
  /** What /base/intake received: bytes, and whether the request arrived whole (undefined while open). */
  const intakes: Array<{ bytes: number; complete: boolean | undefined }> = [];
  const routes: Record<string, Handler> = {
    '/base/echo': (req, res) => {
      let size = 0;
      req.on('data', (c: Buffer) => (size += c.length));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ method: req.method, url: req.url, size, header: req.headers['x-test'] ?? null }));
      });
    },
    '/base/slow': () => undefined, // never answers
    '/base/stream': (_req, res) => {
      res.write('first,');
      release = () => res.end('last');
    },
    '/base/flaky': (req, res) => {
      if ((hits.get(req.url!) ?? 0) === 1) return req.socket.destroy();
      res.end('ok');
    },
    '/base/intake': (req, res) => {
      const record: { bytes: number; complete: boolean | undefined } = { bytes: 0, complete: undefined };
      intakes.push(record);
      req.on('data', (c: Buffer) => (record.bytes += c.length));
      req.on('end', () => res.end('taken'));
      req.on('close', () => (record.complete = req.complete));
    },
    '/base/unread': () => undefined, // never reads the body, never answers
    '/base/busy': (req, res) => {
      res.statusCode = hits.get(req.url!) === 1 ? 503 : 200;
      res.end(res.statusCode === 503 ? 'busy' : 'ok');
    },
  };

  beforeAll(async () => {
    server = createHttp((req, res) => {
      hits.set(req.url!, (hits.get(req.url!) ?? 0) + 1);
      const handler = routes[req.url!.split('?')[0]!];
      if (handler) handler(req, res);
      else {
        res.statusCode = 404;
        res.end();
      }
    });
    origin = `http://127.0.0.1:${await listen(server)}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('forwards method, path under the base path, query, headers and a streamed body', async () => {
    const client = createUpstreamClient(target(origin, { basePath: '/base' }));
    const body = Readable.from([Buffer.alloc(3000, 'a'), Buffer.alloc(2000, 'b')]);
    const res = await client.send({ method: 'POST', path: '/echo?x=1', headers: { 'x-test': 'yes' }, body, bodyLimit: 10_000 });
    expect(res.status).toBe(200);
    expect(JSON.parse(await read(res.body))).toEqual({ method: 'POST', url: '/base/echo?x=1', size: 5000, header: 'yes' });
    expect(res.bytesIn()).toBe(5000);
    await client.close();
  });

  it('streams the answer: the first bytes arrive before the upstream has finished', async () => {
    const client = createUpstreamClient(target(origin, { basePath: '/base' }));
    const res = await client.send({ method: 'GET', path: '/stream', headers: {}, body: undefined, bodyLimit: 0 });
    const first = await new Promise<string>((resolve) => res.body.once('data', (c: Buffer) => resolve(c.toString())));
    expect(first).toBe('first,');
    release();
    expect(await read(res.body)).toBe('last');
    await client.close();
  });

  it('a body over the limit is cut off while streaming (413), and a declared one at once', async () => {
    const client = createUpstreamClient(target(origin, { basePath: '/base' }));
    const body = Readable.from([Buffer.alloc(800), Buffer.alloc(800)]);
    expect(await refusal(client.send({ method: 'POST', path: '/echo', headers: {}, body, bodyLimit: 1000 }))).toEqual({
      code: 'payload_too_large',
      status: 413,
    });
    const declared = client.send({
      method: 'POST',
      path: '/echo',
      headers: { 'content-length': '5000' },
      body: Readable.from([]),
      bodyLimit: 1000,
    });
    expect(await refusal(declared)).toEqual({ code: 'payload_too_large', status: 413 });
    await client.close();
  });

  it('the total timeout answers 504 upstream_timeout', async () => {
    const client = createUpstreamClient(target(origin, { basePath: '/base', timeoutMs: 300, retries: 0 }));
    expect(await refusal(client.send({ method: 'GET', path: '/slow', headers: {}, body: undefined, bodyLimit: 0 }))).toEqual({
      code: 'upstream_timeout',
      status: 504,
    });
    await client.close();
  });

  it('a GET is retried after a reset connection or a 503; a POST never is', async () => {
    const client = createUpstreamClient(target(origin, { basePath: '/base', retries: 1 }));
    const get = await client.send({ method: 'GET', path: '/flaky?get', headers: {}, body: undefined, bodyLimit: 0 });
    expect({ status: get.status, text: await read(get.body), hits: hits.get('/base/flaky?get') }).toEqual({
      status: 200,
      text: 'ok',
      hits: 2,
    });
    const busy = await client.send({ method: 'GET', path: '/busy?get', headers: {}, body: undefined, bodyLimit: 0 });
    expect({ status: busy.status, hits: hits.get('/base/busy?get') }).toEqual({ status: 200, hits: 2 });
    await read(busy.body);
    const post = client.send({ method: 'POST', path: '/flaky?post', headers: {}, body: Readable.from(['x']), bodyLimit: 10 });
    expect(await refusal(post)).toEqual({ code: 'upstream_unreachable', status: 502 });
    expect(hits.get('/base/flaky?post')).toBe(1);
    const postBusy = await client.send({ method: 'POST', path: '/busy?post', headers: {}, body: Readable.from(['x']), bodyLimit: 10 });
    expect({ status: postBusy.status, hits: hits.get('/base/busy?post') }).toEqual({ status: 503, hits: 1 });
    await read(postBusy.body);
    await client.close();
  });

  const settled = async () => {
    for (let i = 0; i < 200 && intakes.some((r) => r.complete === undefined); i++) await new Promise((r) => setTimeout(r, 10));
    return intakes.map((r) => r.complete);
  };

  it("a body that stops arriving is the caller's fault: 408 request_timeout, and the upstream never gets all of it", async () => {
    intakes.length = 0;
    const client = createUpstreamClient(target(origin, { basePath: '/base', timeoutMs: 5000, bodyIdleTimeoutMs: 200, retries: 0 }));
    const body = new PassThrough();
    body.write('{"name":');
    expect(await refusal(client.send({ method: 'POST', path: '/intake', headers: {}, body, bodyLimit: 1000 }))).toEqual({
      code: 'request_timeout',
      status: 408,
    });
    expect(await settled()).toEqual([false]);
    await client.close();
  });

  it("a body still trickling in when the total timeout runs out is the caller's delay too (408, not 504)", async () => {
    intakes.length = 0;
    const client = createUpstreamClient(target(origin, { basePath: '/base', timeoutMs: 400, bodyIdleTimeoutMs: 5000, retries: 0 }));
    const body = new PassThrough();
    const trickle = setInterval(() => body.write('x'), 50);
    try {
      expect(await refusal(client.send({ method: 'POST', path: '/intake', headers: {}, body, bodyLimit: 1000 }))).toEqual({
        code: 'request_timeout',
        status: 408,
      });
    } finally {
      clearInterval(trickle);
    }
    expect(await settled()).toEqual([false]);
    await client.close();
  });

  it("an upstream that does not read the body is the upstream's delay: 504, never 408", async () => {
    const client = createUpstreamClient(target(origin, { basePath: '/base', timeoutMs: 600, bodyIdleTimeoutMs: 100, retries: 0 }));
    // Always more to send: once the socket buffers are full, only the upstream holds things up.
    const chunk = Buffer.alloc(64 * 1024);
    const body = new Readable({
      read() {
        this.push(chunk);
      },
    });
    expect(await refusal(client.send({ method: 'POST', path: '/unread', headers: {}, body, bodyLimit: 1024 ** 3 }))).toEqual({
      code: 'upstream_timeout',
      status: 504,
    });
    body.destroy();
    await client.close();
  });

  it('a caller that goes away mid-body gets its own error back (nothing to answer, nothing to blame the upstream for)', async () => {
    intakes.length = 0;
    const client = createUpstreamClient(target(origin, { basePath: '/base', retries: 0 }));
    const body = new PassThrough();
    body.write('{"name":');
    const sent = client.send({ method: 'POST', path: '/intake', headers: {}, body, bodyLimit: 1000 }).catch((e: unknown) => e);
    for (let i = 0; i < 200 && !(intakes[0]?.bytes ?? 0); i++) await new Promise((r) => setTimeout(r, 10));
    const gone = Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
    body.destroy(gone);
    const err = await sent;
    expect(err).not.toBeInstanceOf(AppError);
    expect(err).toBe(gone);
    expect(await settled()).toEqual([false]);
    await client.close();
  });

  it('an answer that is not HTTP is 502 upstream_error (reached, but broken), with no library message', async () => {
    const garbage = createNet((socket) => socket.once('data', () => socket.end('garbage\r\n\r\n')));
    const port = await listen(garbage);
    const client = createUpstreamClient(target(`http://127.0.0.1:${port}`, { retries: 0 }));
    const err = await client.send({ method: 'GET', path: '/', headers: {}, body: undefined, bodyLimit: 0 }).catch((e: unknown) => e);
    expect({ code: (err as AppError).code, message: (err as AppError).message }).toEqual({
      code: 'upstream_error',
      message: 'The kyc service sent a malformed response',
    });
    await client.close();
    await new Promise((r) => garbage.close(r));
  });

  it('an upstream that is not listening answers 502 upstream_unreachable, with no library message', async () => {
    const closed = createHttp();
    const port = await listen(closed);
    await new Promise((r) => closed.close(r));
    const client = createUpstreamClient(target(`http://127.0.0.1:${port}`, { retries: 0 }));
    const err = await client.send({ method: 'GET', path: '/', headers: {}, body: undefined, bodyLimit: 0 }).catch((e: unknown) => e);
    expect((err as AppError).code).toBe('upstream_unreachable');
    expect((err as AppError).message).toBe('The kyc service could not be reached');
    await client.close();
  });
});

describe('upstream client over HTTPS', () => {
  let server: Server;
  let origin: string;
  let ca: { cert: string; key: string };
  let clientCert: { cert: string; key: string };
  let seenClient: string | undefined;

  async function issue(cn: string, options: { ca?: { cert: string; key: string }; server?: boolean } = {}) {
    return selfsigned.generate([{ name: 'commonName', value: cn }], {
      keyType: 'ec',
      algorithm: 'sha256',
      ...(options.ca ? { ca: options.ca } : {}),
      extensions: options.ca
        ? [
            { name: 'basicConstraints', cA: false },
            { name: 'keyUsage', digitalSignature: true },
            { name: 'extKeyUsage', ...(options.server ? { serverAuth: true } : { clientAuth: true }) },
            ...(options.server ? [{ name: 'subjectAltName' as const, altNames: [{ type: 7 as const, ip: '127.0.0.1' }] }] : []),
          ]
        : [
            { name: 'basicConstraints', cA: true },
            { name: 'keyUsage', keyCertSign: true, digitalSignature: true },
          ],
    });
  }

  beforeAll(async () => {
    const caPems = await issue('test upstream CA');
    ca = { cert: caPems.cert, key: caPems.private };
    const serverPems = await issue('kyc.internal', { ca, server: true });
    const clientPems = await issue('vaultgate-gateway', { ca });
    clientCert = { cert: clientPems.cert, key: clientPems.private };
    server = createHttps(
      { cert: serverPems.cert, key: serverPems.private, ca: ca.cert, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
        seenClient = (req.socket as import('node:tls').TLSSocket).authorized ? String(peer.subject?.CN) : undefined;
        res.end('secure');
      },
    );
    origin = `https://127.0.0.1:${await listen(server)}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  // @control PCI-4.2.1
  it('verifies the upstream with the given CA and presents the client certificate (mTLS)', async () => {
    const client = createUpstreamClient(
      target(origin, { tls: { ca: Buffer.from(ca.cert), cert: Buffer.from(clientCert.cert), key: Buffer.from(clientCert.key) } }),
    );
    const res = await client.send({ method: 'GET', path: '/', headers: {}, body: undefined, bodyLimit: 0 });
    expect({ status: res.status, text: await read(res.body), client: seenClient }).toEqual({
      status: 200,
      text: 'secure',
      client: 'vaultgate-gateway',
    });
    await client.close();
  });

  // @control OWASP-API10, PCI-4.2.1
  it('refuses an upstream whose certificate it cannot verify (no CA given): 502, nothing sent', async () => {
    const client = createUpstreamClient(target(origin, { retries: 0 }));
    expect(await refusal(client.send({ method: 'GET', path: '/', headers: {}, body: undefined, bodyLimit: 0 }))).toEqual({
      code: 'upstream_unreachable',
      status: 502,
    });
    await client.close();
  });
});
