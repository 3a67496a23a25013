// A stuck log consumer (a shipper that stopped reading the pipe) neither blocks the process nor
// grows its memory without bound: lines beyond the bounded buffer are dropped and counted, and
// once the consumer reads again one line says how many were lost. The logger runs in a child
// process whose stdout this test does not read until it has logged everything.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'stuck-log-consumer.ts');

it('20,000 lines into a pipe nobody reads: the logger returns, drops beyond 64 KiB, and reports the drops once read again', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, '20000', String(64 * 1024)], { stdio: ['pipe', 'pipe', 'pipe'] });
  try {
    // Not read: the pipe fills (64 KiB in the kernel) and stays full.
    child.stdout.pause();
    const report = await new Promise<{ logged: number; dropped: number }>((resolve, reject) => {
      let err = '';
      child.stderr.on('data', (c: Buffer) => {
        err += c.toString('utf8');
        const line = err.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve(JSON.parse(line) as { logged: number; dropped: number });
      });
      child.once('exit', (code) => reject(new Error(`child exited with ${code}: ${err}`)));
    });
    // Every call returned (a blocking write would have hung here) and most lines were dropped:
    // at most the 64 KiB buffer and the pipe's own 64 KiB are held, about 1000 lines of ~120 bytes.
    expect(report.logged).toBe(20000);
    expect(report.dropped).toBeGreaterThan(15000);

    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stdout.resume();
    child.stdin.write('go\n');
    await new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const lines = out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { msg: string; dropped?: number; event?: string });
    const written = lines.filter((l) => l.msg === 'request').length;
    const notice = lines.filter((l) => l.event === 'log.lines_dropped');
    expect(notice).toHaveLength(1);
    expect(notice[0]?.dropped).toBe(report.dropped);
    // Nothing lost silently: every line was either written or counted as dropped.
    expect(written + report.dropped).toBe(20000);
    expect(lines.some((l) => l.msg === 'after')).toBe(true);
  } finally {
    child.kill('SIGKILL');
  }
});
