// docs/contract.md is what users' scripts rely on: its error-code table must be the code's own
// table (every code, with its status), so neither can change without the other.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { ERROR_STATUS } from '../../src/errors.js';

it('the error codes and statuses in docs/contract.md §6 are exactly ERROR_STATUS', () => {
  const doc = readFileSync('docs/contract.md', 'utf8');
  const section = doc.slice(doc.indexOf('## 6. Error codes'));
  const rows = [...section.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]);
  expect(Object.fromEntries(rows)).toEqual(ERROR_STATUS);
  expect(rows.length).toBe(Object.keys(ERROR_STATUS).length);
});
