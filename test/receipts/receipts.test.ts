// Signed receipts (docs/contract.md §10, issue 15 items 4–5), on both engines: every 2xx answer of
// a money-moving POST carries Content-Digest and an RFC 9421 `receipt` signature that an
// independent implementation (the http-message-signatures package, not our code) verifies with
// the keys at /.well-known/receipt-keys; a changed status, body byte or covered header breaks it;
// a replay carries the original receipt, byte for byte; after a key rotation old receipts still
// verify; `vaultgate receipts verify` checks a saved raw response.
import { createHash, createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { httpbis } from 'http-message-signatures';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadMasterKey } from '../../src/crypto/master-key.js';
import { createPlatformSecrets } from '../../src/crypto/platform-secrets.js';
import { createReceiptKeys } from '../../src/receipts/keys.js';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { runCli } from '../support/cli.js';
import { describeEngines, type Engine } from '../support/databases.js';

type Jwks = { keys: Array<JsonWebKey & { kid: string }> };
type Answer = { status: number; headers: Record<string, string>; body: string };

/** The independent check: RFC 9421 by http-message-signatures, RFC 9530 by a plain sha-256. */
async function independentlyVerified(answer: Answer, jwks: Jwks): Promise<boolean> {
  const digest = `sha-256=:${createHash('sha256').update(answer.body).digest('base64')}:`;
  if (answer.headers['content-digest'] !== digest) return false;
  const verified = await httpbis.verifyMessage(
    {
      keyLookup: async (params) => {
        const jwk = jwks.keys.find((k) => k.kid === params.keyid);
        if (!jwk) return null;
        const key = createPublicKey({ key: jwk, format: 'jwk' });
        return { id: jwk.kid, algs: ['ed25519'], verify: async (data, signature) => verify(null, data, key, signature) };
      },
      requiredFields: ['@status', 'content-digest', 'content-type', 'x-request-id'],
    },
    { status: answer.status, headers: answer.headers },
  );
  return verified === true;
}

describeEngines('signed receipts', (engine: Engine) => {
  let s: TestServer;
  let mover: Awaited<ReturnType<TestServer['newClient']>>;
  let a: string;
  let b: string;
  let dir: string;

  beforeAll(async () => {
    s = await startTestServer(engine);
    mover = await s.newClient('acme');
    const cus = await s.http.call('/v1/customers', { token: mover.token, body: { full_name: 'Ada Lovelace', email: 'ada@example.com' } });
    const open = async () =>
      (await s.http.call('/v1/accounts', { token: mover.token, body: { customer_id: cus.body.id, currency: 'EUR' } })).body.id as string;
    [a, b] = [await open(), await open()];
    dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-receipts-'));
  });
  afterAll(async () => {
    await s?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const jwks = async () => (await s.http.call('/.well-known/receipt-keys')).body as Jwks;
  const answerOf = (res: { status: number; headers: Record<string, unknown>; text: string }): Answer => ({
    status: res.status,
    headers: Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, String(v)])),
    body: res.text,
  });
  const money = (p: string, body: object, key = `k-${Math.random()}`) =>
    s.http.call(p, { token: mover.token, headers: { 'idempotency-key': key }, body });

  it('deposits, transfers, holds and captures are signed; the independent verifier accepts them', async () => {
    const keys = await jwks();
    expect(keys.keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    expect(keys.keys[0]).not.toHaveProperty('d');
    const answers = [
      await money('/v1/deposits', { account_id: a, amount: 1000, currency: 'EUR', reference: 'seed' }),
      await money('/v1/transfers', { source_account_id: a, destination_account_id: b, amount: 100, currency: 'EUR' }),
    ];
    const hold = await money('/v1/holds', { source_account_id: a, destination_account_id: b, amount: 50, currency: 'EUR' });
    answers.push(hold, await money(`/v1/holds/${hold.body.id}/capture`, {}));
    for (const res of answers) {
      expect(res.status).toBe(201);
      expect(res.headers['signature-input']).toMatch(
        /^receipt=\("@status" "content-digest" "content-type" "x-request-id"\);created=\d+;keyid="receipt-1";alg="ed25519";tag="vaultgate-receipt"$/,
      );
      expect(await independentlyVerified(answerOf(res), keys)).toBe(true);
    }
    // A refusal is no receipt.
    const refused = await money('/v1/transfers', { source_account_id: a, destination_account_id: b, amount: 10 ** 9, currency: 'EUR' });
    expect([refused.status, refused.headers.signature]).toEqual([422, undefined]);
  });

  it('a changed status, body byte or covered header breaks the receipt', async () => {
    const res = answerOf(await money('/v1/transfers', { source_account_id: a, destination_account_id: b, amount: 7, currency: 'EUR' }));
    const keys = await jwks();
    expect(await independentlyVerified(res, keys)).toBe(true);
    expect(await independentlyVerified({ ...res, status: 200 }, keys)).toBe(false);
    expect(await independentlyVerified({ ...res, body: res.body.replace('"amount":7', '"amount":8') }, keys)).toBe(false);
    expect(await independentlyVerified({ ...res, headers: { ...res.headers, 'x-request-id': 'another' } }, keys)).toBe(false);
    expect(await independentlyVerified({ ...res, headers: { ...res.headers, 'content-type': 'text/plain' } }, keys)).toBe(false);
  });

  it('an idempotent replay carries the original receipt, the same signed bytes', async () => {
    const key = `replay-${Math.random()}`;
    const body = { source_account_id: a, destination_account_id: b, amount: 3, currency: 'EUR' };
    const first = await money('/v1/transfers', body, key);
    const again = await money('/v1/transfers', body, key);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.text).toBe(first.text);
    for (const h of ['content-digest', 'signature-input', 'signature', 'x-request-id']) expect(again.headers[h]).toBe(first.headers[h]);
    expect(await independentlyVerified(answerOf(again), await jwks())).toBe(true);
  });

  it('after a key rotation the old receipts still verify, and vaultgate receipts verify checks a saved response', async () => {
    const old = answerOf(await money('/v1/transfers', { source_account_id: a, destination_account_id: b, amount: 2, currency: 'EUR' }));
    const rotated = await runCli(['receipts', 'rotate-key', '--json'], s.env);
    expect([rotated.code, JSON.parse(rotated.stdout)]).toEqual([0, { kid: 'receipt-2' }]);
    const master = loadMasterKey(path.join(s.dataDir, 'master.key'), { create: false });
    const ring = createReceiptKeys(createPlatformSecrets(s.database.db, master));
    const published = (await ring.publicJwks()) as Jwks;
    expect(published.keys.map((k) => k.kid)).toEqual(['receipt-1', 'receipt-2']);
    expect(await independentlyVerified(old, published)).toBe(true);

    const raw = `HTTP/1.1 ${old.status} Created\r\n${Object.entries(old.headers)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\r\n')}\r\n\r\n${old.body}`;
    const file = path.join(dir, 'answer.http');
    writeFileSync(file, raw);
    const ok = await runCli(['receipts', 'verify', '--in', file, '--json'], s.env);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ valid: true, kid: 'receipt-1', status: 201 });
    writeFileSync(file, raw.replace('"amount":2', '"amount":3'));
    const bad = await runCli(['receipts', 'verify', '--in', file, '--json'], s.env);
    expect([bad.code, JSON.parse(bad.stdout)]).toEqual([1, { valid: false, reason: 'content-digest does not match the body' }]);
  });
});
