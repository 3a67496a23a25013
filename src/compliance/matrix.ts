// The control matrix: every control of controls.ts with the tests that prove it, read from the
// `// @control ID[, ID…]` comments in the test suite. A comment belongs to the next `it(`, `test(`
// or `describe(` after it. Tests are named by file and title (no line numbers, so the shipped
// matrix changes only when a proof does).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CONTROLS, GAPS, type Control, type Gap } from './controls.js';

export interface ProvingTest {
  /** The test file, relative to the package root, with forward slashes. */
  file: string;
  title: string;
}

export interface MatrixRow extends Control {
  tests: ProvingTest[];
}

export interface ComplianceMatrix {
  controls: MatrixRow[];
  gaps: readonly Gap[];
  /** Controls with no proving test: CI fails on any. */
  unproved: string[];
  /** Annotations naming a control that controls.ts does not list (a typo proves nothing). */
  unknown: Array<{ id: string; file: string; title: string }>;
}

const ANNOTATION = /^\s*\/\/\s*@control\s+(.+)$/;
const ID = /^[A-Z0-9][A-Z0-9.-]*$/;
// The declaration a comment annotates: `it(`, `it.each(…)(`, `describe.each(…)(`, `test(`, with
// its title as the first string argument (possibly on the next line).
const DECLARATION =
  /^\s*(?:it|test|describe)(?:\.(?:each\([^\n]*?\)|skipIf\([^\n]*?\)|runIf\([^\n]*?\)|sequential|concurrent))?\(\s*(['"`])((?:\\.|(?!\1).)*)\1/;

function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...testFiles(full));
    else if (entry.name.endsWith('.test.ts')) out.push(full);
  }
  return out.sort();
}

/** The annotations of one test file's source: each control id with the title it proves. */
export function annotationsIn(source: string): Array<{ ids: string[]; title: string }> {
  const lines = source.split('\n');
  const found: Array<{ ids: string[]; title: string }> = [];
  for (let i = 0; i < lines.length; i++) {
    const m = ANNOTATION.exec(lines[i]!);
    if (!m) continue;
    const ids = m[1]!.split(/[\s,]+/).filter((s) => s !== '');
    // The next line that is not a comment starts the declaration; its title may follow on the next.
    let j = i + 1;
    while (j < lines.length && /^\s*(\/\/.*)?$/.test(lines[j]!)) j++;
    const declaration = DECLARATION.exec(`${lines[j] ?? ''}${(lines[j + 1] ?? '').trim()}`);
    if (!declaration) throw new Error(`line ${i + 1}: @control ${ids.join(', ')} is not followed by an it(), test() or describe()`);
    const bad = ids.find((id) => !ID.test(id));
    if (bad !== undefined) throw new Error(`line ${i + 1}: "${bad}" is not a control id`);
    found.push({ ids, title: declaration[2]!.replace(/\\(.)/g, '$1') });
  }
  return found;
}

/** The matrix from the test files under `root/test`. */
export function buildMatrix(root: string, controls: readonly Control[] = CONTROLS): ComplianceMatrix {
  const proofs = new Map<string, ProvingTest[]>(controls.map((c) => [c.id, []]));
  const unknown: ComplianceMatrix['unknown'] = [];
  for (const full of testFiles(path.join(root, 'test'))) {
    const file = path.relative(root, full).split(path.sep).join('/');
    let annotations;
    try {
      annotations = annotationsIn(readFileSync(full, 'utf8'));
    } catch (err) {
      throw new Error(`${file}, ${(err as Error).message}`);
    }
    for (const { ids, title } of annotations) {
      for (const id of ids) {
        const list = proofs.get(id);
        if (list) list.push({ file, title });
        else unknown.push({ id, file, title });
      }
    }
  }
  const rows = controls.map((c) => ({ ...c, tests: proofs.get(c.id)! }));
  return { controls: rows, gaps: GAPS, unproved: rows.filter((r) => r.tests.length === 0).map((r) => r.id), unknown };
}
