// API3:2023: server-controlled properties written by a caller, undeclared properties taken
// silently, answer fields the document does not declare, and secrets in answers.
import { describe, expect, it } from 'vitest';
import { findingsWith, summary } from './helpers.js';

const CHECKS = ['mass-assignment', 'unknown-properties', 'undeclared-response-fields', 'secret-exposure'];
const api3 = (check: string, severity: string, method: string, path: string) => ({ check, owasp: 'API3:2023', severity, method, path });

describe('property level authorization', () => {
  it('mass-assignment: status and owner_id planted twice, both came back', async () => {
    const findings = await findingsWith(['mass-assignment'], ['mass-assignment']);
    expect(findings.map(summary)).toEqual([api3('mass-assignment', 'high', 'POST', '/v1/notes')]);
    expect(findings[0]?.evidence).toMatch(
      /status = "archived" then "draft", owner_id = "vgscan[0-9a-f]+-planted-1" then "vgscan[0-9a-f]+-planted-2"/,
    );
  });

  it('unknown-properties: an undeclared property accepted on every creation', async () => {
    const findings = await findingsWith(['unknown-properties'], ['unknown-properties']);
    expect(findings.map(summary)).toEqual([
      api3('unknown-properties', 'low', 'POST', '/v1/folders'),
      api3('unknown-properties', 'low', 'POST', '/v1/notes'),
    ]);
  });

  it('undeclared-response-fields: internal_score, on every operation answering a note', async () => {
    const findings = await findingsWith(['undeclared-fields'], ['undeclared-response-fields']);
    expect(findings.map(summary)).toEqual([
      api3('undeclared-response-fields', 'medium', 'GET', '/v1/notes'),
      api3('undeclared-response-fields', 'medium', 'POST', '/v1/notes'),
      api3('undeclared-response-fields', 'medium', 'GET', '/v1/notes/{id}'),
    ]);
    for (const f of findings) expect(f.evidence).toMatch(/field\(s\) the document does not declare: (data\[\]\.)?internal_score$/);
  });

  it('secret-exposure: an api_key in folder reads, named in the evidence, its value never', async () => {
    const findings = await findingsWith(['secret-field'], ['secret-exposure']);
    expect(findings.map(summary)).toEqual([
      api3('secret-exposure', 'high', 'GET', '/v1/folders'),
      api3('secret-exposure', 'high', 'GET', '/v1/folders/{id}'),
    ]);
    expect(findings[1]?.evidence).toBe('GET /v1/folders/{id} → 200 answers api_key (named like a secret)');
    for (const f of findings) expect(f.evidence).not.toContain('sk_live_');
  });

  it('the twin: strict input, declared output, no secrets: nothing found', async () => {
    expect(await findingsWith([], CHECKS)).toEqual([]);
  });
});
