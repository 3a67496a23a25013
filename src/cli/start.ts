import { loadConfig } from '../config.js';
import { startServer } from '../server.js';
import { CliError, type CommandContext } from './context.js';

export async function startCommand(args: string[], _ctx: CommandContext): Promise<number> {
  if (args.length > 0) throw new CliError(`start takes no arguments (configuration is by environment; got ${args[0]})`);
  const server = await startServer(loadConfig(), { handleSignals: true });
  process.stdout.write(`vaultgate: listening on ${server.url}\n`);
  return new Promise<number>(() => undefined); // runs until a signal stops it
}
