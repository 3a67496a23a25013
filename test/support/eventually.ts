// Polls until `check` holds, for what happens beside a request rather than inside it: a reload
// from a file change (the watcher settles first), an audit event recorded beside a log line (on
// PostgreSQL readable once the chain has sealed it). Bounded: 10 s, then a failure naming `what`.
export async function eventually(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never happened: ${what}`);
}
