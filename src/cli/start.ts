import { loadConfig, type Config } from '../config.js';
import { startServer } from '../server.js';
import { SPECS } from './commands.js';
import { CliError, type CommandContext } from './context.js';
import { parseOptions } from './options.js';

/** The listen failures an operator can fix, as one line with the cause and the fix. */
function listenFailure(err: unknown, config: Readonly<Config>): CliError | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = `${config.host}:${config.port}`;
  switch (code) {
    case 'EADDRINUSE':
      return new CliError(`port ${config.port} is already in use on ${config.host}; set VAULTGATE_PORT (0 picks a free port)`);
    case 'EACCES':
      return new CliError(`no permission to listen on ${where}; set VAULTGATE_PORT to a port above 1023`);
    case 'EADDRNOTAVAIL':
      return new CliError(`${config.host} is not an address of this machine; set VAULTGATE_HOST`);
    default:
      return undefined;
  }
}

export async function startCommand(args: string[], _ctx: CommandContext): Promise<number> {
  parseOptions(SPECS.start, args); // no options: configuration is by environment
  const config = loadConfig();
  const server = await startServer(config, { handleSignals: true }).catch((err: unknown) => {
    throw listenFailure(err, config) ?? err;
  });
  process.stdout.write(`vaultgate: listening on ${server.url}\n`);
  const lts = process.release.lts;
  if (!lts || lts < 'Jod') {
    process.stderr.write(
      `vaultgate: note: oidc-provider 9 targets Node.js 22+; it works on ${process.version}, but prefer an LTS release from 22 on\n`,
    );
  }
  return new Promise<number>(() => undefined); // runs until a signal stops it
}
