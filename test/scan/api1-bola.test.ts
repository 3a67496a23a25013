// API1:2023: each way of naming another tenant's object (path, query, body, plain lists) is
// found on the fixture that lets it through, and nothing is found on its twin.
import { describe, expect, it } from 'vitest';
import { findingsWith, summary } from './helpers.js';

const bola = (method: string, path: string) => ({ check: 'bola', owasp: 'API1:2023', severity: 'high', method, path });

describe('bola', () => {
  it.each([
    [
      'bola-path',
      [bola('GET', '/v1/folders/{id}'), bola('DELETE', '/v1/notes/{id}'), bola('GET', '/v1/notes/{id}'), bola('PUT', '/v1/notes/{id}')],
    ],
    ['bola-query', [bola('GET', '/v1/notes')]],
    ['bola-body', [bola('POST', '/v1/notes')]],
    ['bola-list', [bola('GET', '/v1/folders')]],
    ['bola-oracle', [bola('DELETE', '/v1/notes/{id}'), bola('GET', '/v1/notes/{id}'), bola('PUT', '/v1/notes/{id}')]],
  ] as const)('%s: found', async (flaw, expected) => {
    const findings = await findingsWith([flaw], ['bola']);
    expect(findings.map(summary)).toEqual(expected);
    for (const f of findings) expect(f.evidence).toMatch(/principal B .* principal A/);
  });

  it('the twin: B is answered 404 for every object of A, nothing found', async () => {
    expect(await findingsWith([], ['bola'])).toEqual([]);
  });

  it('an answer that tells "not yours" from "not there" gives the object away', async () => {
    const findings = await findingsWith(['bola-oracle'], ['bola']);
    expect(findings[1]?.evidence).toMatch(
      /^principal B GET \/v1\/notes\/note_[0-9a-z]{12} \(an object principal A created\) → 403; the same request for an id that does not exist → 404 \(twice\): the answer tells B that A's object exists$/,
    );
  });

  it('the path, query and body probes compare with an id that does not exist', async () => {
    const [f] = await findingsWith(['bola-body'], ['bola']);
    expect(f?.evidence).toMatch(
      /^principal B POST \/v1\/notes with folder_id = an object principal A created → 201; with an id that does not exist → 404$/,
    );
  });
});
