// The delivery client on the real network path, with a stub resolver and receivers on loopback
// only (no test connects anywhere else): the connection goes to the address the guard checked
// (a made-up name, resolved by the stub, reaches the local receiver), a name that also answers a
// private address is refused before any connection, and a redirect is not followed.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSender } from '../../src/webhooks/sender.js';
import type { Resolver } from '../../src/webhooks/ssrf-guard.js';

let receiver: Server;
let port: number;
const hits: Array<{ url: string; host: string | undefined }> = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    hits.push({ url: req.url ?? '', host: req.headers.host });
    if (req.url === '/moved') res.writeHead(302, { location: `http://127.0.0.1:${port}/elsewhere` }).end();
    else res.writeHead(204).end();
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  port = (receiver.address() as AddressInfo).port;
});
afterAll(async () => new Promise((r) => receiver.close(r)));

const policy = { allowHttp: true, allowPrivateCidrs: ['127.0.0.0/8'] };
const stub =
  (answers: Record<string, Array<{ address: string; family: 4 | 6 }>>): Resolver =>
  async (host) =>
    answers[host] ?? [];

it('connects to the address the guard checked: a stub-resolved name reaches the loopback receiver, Host kept', async () => {
  const send = createSender(policy, stub({ 'hooks.receiver.test': [{ address: '127.0.0.1', family: 4 }] }));
  const result = await send(`http://hooks.receiver.test:${port}/in`, { 'x-test': '1' }, '{}');
  expect(result).toEqual({ ok: true, status: 204, error: undefined });
  expect(hits.at(-1)).toEqual({ url: '/in', host: `hooks.receiver.test:${port}` });
});

// @control OWASP-API7
it('a name answering a public and a private address (rebinding) is refused, and nothing is sent', async () => {
  const before = hits.length;
  const send = createSender(
    { allowHttp: true, allowPrivateCidrs: [] },
    stub({
      'rebind.receiver.test': [
        { address: '93.184.216.34', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ],
    }),
  );
  expect(await send(`http://rebind.receiver.test:${port}/in`, {}, '{}')).toEqual({
    ok: false,
    status: undefined,
    error: 'address_not_allowed',
  });
  expect(hits.length).toBe(before);
});

// @control OWASP-API7
it('a redirect is not followed: the 302 is the answer, a failure', async () => {
  const before = hits.length;
  const send = createSender(policy, stub({}));
  expect(await send(`http://127.0.0.1:${port}/moved`, {}, '{}')).toEqual({ ok: false, status: 302, error: 'HTTP 302' });
  expect(hits.slice(before).map((h) => h.url)).toEqual(['/moved']);
});
