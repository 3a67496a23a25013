// `vaultgate <command>`: thin commands that parse arguments, call a service and print.
// With --json a command prints one JSON document on stdout and nothing else there.
import { ConfigError } from '../errors.js';
import { clientsCommand } from './clients.js';
import { CliError, type CommandContext } from './context.js';
import { migrateCommand } from './migrate.js';
import { startCommand } from './start.js';

const USAGE = `usage: vaultgate <command> [options]

commands:
  start                      run the platform
  migrate                    apply pending schema migrations
  clients create --tenant NAME --name NAME --scopes "s1 s2" [--grant client_credentials|authorization_code]
                 [--redirect-uri URI] [--auth private_key_jwt --jwks-file F] [--auth tls_client_auth --tls-subject DN]
  clients list
  clients revoke CLIENT_ID
every command accepts --json`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const json = rest.includes('--json');
  const args = rest.filter((a) => a !== '--json');
  const ctx: CommandContext = { json };
  try {
    switch (command) {
      case 'start':
        return await startCommand(args, ctx);
      case 'migrate':
        return await migrateCommand(args, ctx);
      case 'clients':
        return await clientsCommand(args, ctx);
      case undefined:
      case 'help':
      case '--help':
        process.stdout.write(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new CliError(`unknown command "${command}" (see vaultgate --help)`);
    }
  } catch (err) {
    if (err instanceof CliError || err instanceof ConfigError) {
      process.stderr.write(`vaultgate: ${err.message}\n`);
      return 2;
    }
    // Never a stack or a library message on the terminal of an operator's script.
    process.stderr.write(`vaultgate: ${command} failed (${(err as Error)?.name ?? 'error'}); see the server log for details\n`);
    if (process.env.VAULTGATE_LOG_LEVEL === 'debug') process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
    return 1;
  }
}
