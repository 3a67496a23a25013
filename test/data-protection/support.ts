// Helpers for the data-protection tests: the CLI from the sources in a child process (another
// process, like an operator's shell), and database dumps for comparisons.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Database } from '../../src/storage/types.js';

const run = promisify(execFile);
const MAIN = path.resolve('src/cli/main.ts');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `vaultgate ARGS` from the TypeScript sources, with exactly `env` (plus PATH). */
export async function cli(args: string[], env: Record<string, string>): Promise<CliResult> {
  const code = `import(${JSON.stringify(MAIN)}).then(async (m) => { process.exitCode = await m.main(JSON.parse(process.env.VG_TEST_ARGS)); })`;
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', '-e', code], {
      env: { PATH: process.env.PATH ?? '', ...env, VG_TEST_ARGS: JSON.stringify(args) },
      cwd: path.resolve('.'),
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const plain = (rows: unknown[]) => JSON.parse(JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));

/** The ledger's rows, in a stable order, for equality checks. */
export async function ledgerDump(db: Database) {
  return {
    accounts: plain(await db.query('SELECT * FROM accounts ORDER BY id')),
    entries: plain(await db.query('SELECT * FROM entries ORDER BY id')),
    transfers: plain(await db.query('SELECT * FROM transfers ORDER BY id')),
  };
}

/** Double-entry invariants: every tenant/currency sums to zero, balances equal their entries. */
export async function assertLedgerBalanced(db: Database, expect: (v: unknown) => { toBe(x: unknown): void }) {
  const sums = await db.query<{ total: bigint }>('SELECT SUM(amount) AS total FROM entries GROUP BY tenant_id, currency');
  for (const r of sums) expect(BigInt(r.total)).toBe(0n);
  const accounts = await db.query<{ id: string; available: bigint; kind: string }>('SELECT id, available, kind FROM accounts');
  for (const a of accounts) {
    const s = await db.one<{ total: bigint | null }>('SELECT SUM(amount) AS total FROM entries WHERE account_id = $1', [a.id]);
    expect(BigInt(s?.total ?? 0n)).toBe(BigInt(a.available));
  }
}
