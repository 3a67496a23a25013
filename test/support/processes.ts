// Child processes of the test setup (database servers): spawned with their output kept for error
// messages, stopped signal by signal, waited for until they answer.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

export const STARTUP_TIMEOUT_MS = 30_000;

/** A prerequisite is missing: skip the engine's suites locally, fail on CI. */
export class Unavailable extends Error {}

export interface RunAs {
  uid: number;
  gid: number;
}

/** A server the setup started (or an external one it uses), with how to stop it. */
export interface Server {
  url: string;
  stop(): Promise<void>;
}

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface Child {
  process: ChildProcess;
  output(): string;
}

export function spawnChild(cmd: string, args: string[], opts: { cwd: string; runAs?: RunAs | undefined }): Child {
  const options: SpawnOptions = { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } };
  if (opts.runAs) {
    options.uid = opts.runAs.uid;
    options.gid = opts.runAs.gid;
  }
  const child = spawn(cmd, args, options);
  // Keep the tail of the output for error messages; always drain the pipes.
  let tail = '';
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (err) => keep(Buffer.from(`spawn error: ${err.message}\n`)));
  return { process: child, output: () => tail };
}

export async function runToEnd(cmd: string, args: string[], opts: { cwd: string; runAs?: RunAs | undefined }): Promise<void> {
  const child = spawnChild(cmd, args, opts);
  const code = await new Promise<number | null>((resolve) => {
    child.process.on('close', (c) => resolve(c));
    child.process.on('error', () => resolve(-1));
  });
  if (code !== 0) throw new Error(`${path.basename(cmd)} failed (exit ${code}):\n${child.output()}`);
}

export function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Sends each signal in turn, giving the process a while to exit after each. */
export async function stopChild(child: ChildProcess, signals: NodeJS.Signals[]): Promise<void> {
  for (const signal of signals) {
    if (exited(child)) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, signal === 'SIGKILL' ? 5000 : 10_000).unref());
    await Promise.race([gone, timeout]);
  }
}

export async function waitFor(probe: () => Promise<boolean>, timeoutMs: number, message: () => string, child?: Child): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && exited(child.process)) throw new Error(message());
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(message());
    await new Promise((r) => setTimeout(r, 50));
  }
}
