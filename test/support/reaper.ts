// Cleanup of last resort for the servers the test setup starts, for when the run ends without
// teardown (crash, SIGTERM, even SIGKILL of the vitest process): an exit hook for the soft cases,
// and a watchdog process that notices the parent is gone (its stdin pipe closes) and kills the
// servers and removes their dirs.
import { spawn, type ChildProcess } from 'node:child_process';

type Reapable = { kind: 'kill'; pid: number; signal: NodeJS.Signals } | { kind: 'rm'; dir: string };

// The watchdog, inlined so nothing needs building; it ignores terminal signals so it outlives the
// run it guards, and does nothing when every item was released (the normal teardown).
const WATCHDOG = `
const items = new Map();
let buf = '';
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => {});
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  for (let i; (i = buf.indexOf('\\n')) >= 0; ) {
    const line = buf.slice(0, i); buf = buf.slice(i + 1);
    const op = line.slice(0, 3), item = line.slice(4);
    if (op === 'add') items.set(item, JSON.parse(item)); else items.delete(item);
  }
});
process.stdin.on('end', async () => {
  const all = [...items.values()];
  const pids = all.filter((i) => i.kind === 'kill').map((i) => i.pid);
  for (const i of all) if (i.kind === 'kill') try { process.kill(i.pid, i.signal); } catch {}
  const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
  for (let n = 0; n < 100 && pids.some(alive); n++) await new Promise((r) => setTimeout(r, 100));
  for (const pid of pids) if (alive(pid)) try { process.kill(pid, 'SIGKILL'); } catch {}
  for (const i of all) if (i.kind === 'rm') require('node:fs').rmSync(i.dir, { recursive: true, force: true });
  process.exit(0);
});
`;

export class Reaper {
  private readonly items = new Map<string, Reapable>();
  private watchdog: ChildProcess | undefined;

  constructor() {
    process.once('exit', () => {
      for (const item of this.items.values()) {
        if (item.kind === 'kill') {
          try {
            process.kill(item.pid, item.signal);
          } catch {
            // already gone
          }
        }
      }
      // Directories are left to the watchdog: a server may still be writing into them.
    });
  }

  private send(line: string): void {
    if (!this.watchdog) {
      this.watchdog = spawn(process.execPath, ['-e', WATCHDOG], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
      this.watchdog.on('error', () => undefined);
      this.watchdog.stdin?.on('error', () => undefined);
      this.watchdog.unref();
      (this.watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    }
    this.watchdog.stdin?.write(`${line}\n`);
  }

  private add(item: Reapable): () => void {
    const key = JSON.stringify(item);
    this.items.set(key, item);
    this.send(`add ${key}`);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.items.delete(key);
      this.send(`del ${key}`);
    };
  }

  killLater(child: ChildProcess, signal: NodeJS.Signals): () => void {
    return child.pid === undefined ? () => undefined : this.add({ kind: 'kill', pid: child.pid, signal });
  }

  removeLater(dir: string): () => void {
    return this.add({ kind: 'rm', dir });
  }
}

export const reaper = new Reaper();
