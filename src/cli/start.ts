import { loadConfig } from '../config.js';
import { startServer } from '../server.js';
import { CliError, type CommandContext } from './context.js';

export async function startCommand(args: string[], _ctx: CommandContext): Promise<number> {
  if (args.length > 0) throw new CliError(`start takes no arguments (configuration is by environment; got ${args[0]})`);
  const server = await startServer(loadConfig(), { handleSignals: true });
  process.stdout.write(`vaultgate: listening on ${server.url}\n`);
  const lts = process.release.lts;
  if (!lts || lts < 'Jod') {
    process.stderr.write(`vaultgate: note: oidc-provider 9 targets Node.js 22+; it works on ${process.version}, but prefer an LTS release from 22 on\n`);
  }
  return new Promise<number>(() => undefined); // runs until a signal stops it
}
