// The control matrix (issue 12, item 8): every control vaultgate claims has a test that says so,
// the matrix shipped in docs/compliance.md is the one the annotations give today, and the
// generator itself finds what it must (and refuses a stray annotation).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONTROLS, FRAMEWORKS, type Control } from '../../src/compliance/controls.js';
import { annotationsIn, buildMatrix } from '../../src/compliance/matrix.js';
import { renderJson, renderMarkdown } from '../../src/compliance/render.js';
import { runCli } from '../support/cli.js';

const ROOT = path.resolve('.');

describe('the control matrix of this repository', () => {
  const matrix = buildMatrix(ROOT);

  it('every listed control has at least one test, and no annotation names an unknown control', () => {
    expect(matrix.unproved).toEqual([]);
    expect(matrix.unknown).toEqual([]);
  });

  it('lists every framework the issue names: each OWASP API risk, and PCI DSS 3.5, 4.2, 8.3, 8.6, 10.2 to 10.5', () => {
    for (const f of FRAMEWORKS) expect(CONTROLS.some((c) => c.framework === f)).toBe(true);
    const owasp = CONTROLS.filter((c) => c.framework === 'OWASP API Security Top 10 (2023)').map((c) => c.ref);
    expect(owasp).toEqual(Array.from({ length: 10 }, (_, i) => `API${i + 1}:2023`));
    const pci = CONTROLS.filter((c) => c.framework === 'PCI DSS 4.0').map((c) => c.ref.split('.').slice(0, 2).join('.'));
    for (const req of ['3.5', '4.2', '8.3', '8.6', '10.2', '10.3', '10.4', '10.5']) expect(pci).toContain(req);
    expect(new Set(CONTROLS.map((c) => c.id)).size).toBe(CONTROLS.length);
  });

  it('docs/compliance.md is the matrix of today (regenerate: node bin/vaultgate.js compliance --out docs/compliance.md)', () => {
    expect(readFileSync('docs/compliance.md', 'utf8')).toBe(renderMarkdown(matrix));
  });

  it('`vaultgate compliance --json` prints the same matrix and exits 0', async () => {
    const res = await runCli(['compliance', '--json']);
    expect({ code: res.code, stderr: res.stderr.replace(/^.*oidc-provider WARNING.*\n/m, '') }).toEqual({ code: 0, stderr: '' });
    expect(res.stdout).toBe(renderJson(matrix));
  });

  it('`vaultgate compliance` refuses an unknown format in one line, exit 2', async () => {
    const res = await runCli(['compliance', '--format', 'pdf']);
    expect(res.code).toBe(2);
    expect(res.stderr.trim()).toBe('vaultgate: --format must be one of markdown, json');
  });
});

describe('annotationsIn', () => {
  it('ties each annotation to the next test or describe, title included, whatever comes between', () => {
    const source = [
      '// @control A-1, B-2',
      "it('first test', () => {});",
      '  // @control C-3',
      '  // a comment in between',
      '',
      "  it.each(CASES)('refuses %s', () => {});",
      '// @control D-4',
      'describe(`a ${"group"}`, () => {});',
      '// @control E-5',
      'it(',
      "  'a title on the next line',",
      '  () => {},',
      ');',
    ].join('\n');
    expect(annotationsIn(source)).toEqual([
      { ids: ['A-1', 'B-2'], title: 'first test' },
      { ids: ['C-3'], title: 'refuses %s' },
      { ids: ['D-4'], title: 'a ${"group"}' },
      { ids: ['E-5'], title: 'a title on the next line' },
    ]);
  });

  it('refuses an annotation that annotates nothing, or names something that is no id', () => {
    expect(() => annotationsIn("// @control A-1\nconst x = 1;\nit('t', () => {});")).toThrow(
      'line 1: @control A-1 is not followed by an it(), test() or describe()',
    );
    expect(() => annotationsIn("// @control a lower-case id\nit('t', () => {});")).toThrow('line 1: "a" is not a control id');
  });
});

describe('buildMatrix', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'vaultgate-compliance-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const control = (id: string): Control => ({ id, framework: 'PCI DSS 4.0', ref: '1', requirement: 'r', how: 'h' });

  it('names the controls no test proves and the annotations no control knows', () => {
    mkdirSync(path.join(root, 'test', 'deep'), { recursive: true });
    writeFileSync(path.join(root, 'test', 'deep', 'one.test.ts'), "// @control X-1, NOPE-9\nit('proves x', () => {});\n");
    writeFileSync(path.join(root, 'test', 'helpers.ts'), "// @control Y-2\nit('not a test file', () => {});\n");
    const m = buildMatrix(root, [control('X-1'), control('Y-2')]);
    expect(m.controls.map((c) => [c.id, c.tests])).toEqual([
      ['X-1', [{ file: 'test/deep/one.test.ts', title: 'proves x' }]],
      ['Y-2', []],
    ]);
    expect(m.unproved).toEqual(['Y-2']);
    expect(m.unknown).toEqual([{ id: 'NOPE-9', file: 'test/deep/one.test.ts', title: 'proves x' }]);
    expect(renderMarkdown(m)).toContain('| Y-2 (1) | r | h | **no test** |');
  });
});
