// The README's ten-line webhook receiver is code users copy: it must verify what vaultgate signs
// (both secrets of a rotation) and refuse a tampered body, another secret and an old timestamp.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { signatureHeader } from '../../src/webhooks/signature.js';

it("the README's receiver verifies vaultgate's signatures and refuses everything else", async () => {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('A receiver checks `Vaultgate-Signature'));
  const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  expect(code).toBeDefined();
  const { verified } = (await import(`data:text/javascript,${encodeURIComponent(code!)}`)) as {
    verified: (header: string, body: string, secret: string) => boolean;
  };
  const body = '{"id":"evt_1","type":"transfer.posted","data":{}}';
  const now = Math.floor(Date.now() / 1000);
  const header = signatureHeader(['whsec_new', 'whsec_old'], now, body);
  expect([verified(header, body, 'whsec_new'), verified(header, body, 'whsec_old')]).toEqual([true, true]);
  expect(verified(header, body.replace('evt_1', 'evt_2'), 'whsec_new')).toBe(false);
  expect(verified(header, body, 'whsec_other')).toBe(false);
  expect(verified(signatureHeader(['whsec_new'], now - 3600, body), body, 'whsec_new')).toBe(false);
});
