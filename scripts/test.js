#!/usr/bin/env node
// `npm test [-- vitest args]`: runs vitest once, then prints one summary line from its JSON
// report, `N passed, N failed, N skipped`, and exits non-zero when anything failed or no test ran.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const vitest = path.join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'vitest.cmd' : 'vitest');
if (!existsSync(vitest)) {
  console.error('vaultgate tests: node_modules/.bin/vitest is missing; run `npm ci` first');
  process.exit(1);
}

// The CLI tests run bin/vaultgate.js, which loads the compiled dist/: build it from the current
// sources first so they never test stale code.
try {
  execFileSync(
    process.execPath,
    [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.build.json')],
    { cwd: root, stdio: 'inherit' },
  );
} catch {
  console.error('vaultgate tests: the TypeScript build failed (see above)');
  process.exit(1);
}

const reportDir = mkdtempSync(path.join(tmpdir(), 'vaultgate-test-report-'));
const reportFile = path.join(reportDir, 'report.json');
const args = ['run', ...process.argv.slice(2), '--reporter=default', '--reporter=json', `--outputFile.json=${reportFile}`];

const child = spawn(vitest, args, { cwd: root, stdio: 'inherit' });

// Ctrl-C reaches vitest directly (same process group); wait for it so its teardown (stopping the
// throwaway PostgreSQL and Redis) finishes before this process exits.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (signal !== 'SIGINT') child.kill(signal);
  });
}

child.on('error', (err) => {
  console.error(`vaultgate tests: could not start vitest: ${err.message}`);
  rmSync(reportDir, { recursive: true, force: true });
  process.exit(1);
});

child.on('close', (code, signal) => {
  let report;
  try {
    report = JSON.parse(readFileSync(reportFile, 'utf8'));
  } catch {
    report = undefined;
  }
  rmSync(reportDir, { recursive: true, force: true });

  const passed = report?.numPassedTests ?? 0;
  const failed = report?.numFailedTests ?? 0;
  const skipped = (report?.numPendingTests ?? 0) + (report?.numTodoTests ?? 0);
  const failedFiles = report?.numFailedTestSuites ?? 0;

  let exitCode = code ?? 1;
  if (signal) {
    console.error(`vaultgate tests: vitest ended by ${signal}`);
    exitCode = exitCode || 1;
  }
  if (!report) {
    console.error('vaultgate tests: vitest wrote no JSON report (it failed before or while running tests)');
    exitCode = exitCode || 1;
  } else if (failed > 0 || failedFiles > 0 || report.success === false) {
    if (failedFiles > 0 && failed === 0) console.error(`vaultgate tests: ${failedFiles} test file(s) failed to run`);
    exitCode = exitCode || 1;
  } else if (passed + failed === 0) {
    console.error('vaultgate tests: no test ran');
    exitCode = exitCode || 1;
  }

  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(exitCode);
});
