// vaultgate as a process of its own (bin/vaultgate.js start), for the tests that kill it with
// SIGKILL: its URL once it listens, and the child to kill.
import { spawn, type ChildProcess } from 'node:child_process';
import { BIN } from './cli.js';

export function startNode(env: NodeJS.ProcessEnv): { child: ChildProcess; url: Promise<string> } {
  const child = spawn(process.execPath, [BIN, 'start'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  const url = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (c) => {
      out += String(c);
      const m = /listening on (https:\/\/\S+)/.exec(out);
      if (m) resolve(m[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening`)));
  });
  return { child, url };
}

/** Resolves once the child has exited (at once if it already has). */
export function exitOf(child: ChildProcess): Promise<unknown> {
  return new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));
}
