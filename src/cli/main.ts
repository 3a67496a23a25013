// `vaultgate <command>`: thin commands that parse arguments, call a service and print.
// With --json a command prints one JSON document on stdout and nothing else there.
import { ConfigError } from '../errors.js';
import { CliError, type CommandContext } from './context.js';

// Each command is imported only when run: `keys` or `backup` need not load the authorization server.
type Command = (args: string[], ctx: CommandContext) => Promise<number>;
const COMMANDS: Record<string, () => Promise<Command>> = {
  start: async () => (await import('./start.js')).startCommand,
  migrate: async () => (await import('./migrate.js')).migrateCommand,
  clients: async () => (await import('./clients.js')).clientsCommand,
  audit: async () => (await import('./audit.js')).auditCommand,
  users: async () => (await import('./users.js')).usersCommand,
  keys: async () => (await import('./keys.js')).keysCommand,
  backup: async () => (await import('./backup.js')).backupCommand,
  restore: async () => (await import('./backup.js')).restoreCommand,
};

const USAGE = `usage: vaultgate <command> [options]

commands:
  start                      run the platform
  migrate                    apply pending schema migrations
  clients create --tenant NAME --name NAME --scopes "s1 s2" [--grant client_credentials|authorization_code]
                 [--redirect-uri URI] [--auth private_key_jwt --jwks-file F] [--auth tls_client_auth --tls-subject DN]
  clients list
  clients revoke CLIENT_ID
  clients review [--days N]  least privilege: registered vs exercised scopes per client, unused ones, idle clients
  users create --tenant NAME --email E --password-stdin [--role customer|operator|auditor|admin] [--customer-id ID]
                             operator/admin: prints a one-time TOTP enrolment code (72 h) for the first sign-in
  users set-role --tenant NAME --email E --role R     change a user's role (applies to its tokens at once)
  users disable --tenant NAME --email E               the user can no longer sign in; its tokens stop working
  users reset-mfa --tenant NAME --email E             remove the user's TOTP; prints a new enrolment code
  keys status                data keys per KEK version
  keys rotate [--batch-size N]   new KEK version, re-wrap every data key online, retire the old one
  backup --out FILE          encrypted online snapshot of the embedded (SQLite) database
  restore --in FILE [--force]    restore a backup into DATABASE_URL's path (--force replaces it)
  audit verify               check the audit hash chain and signed checkpoints (exit 1 + first bad seq)
  audit export [--from T] [--to T] [--tenant ID] [--client ID] [--action A] [--outcome O]
                             audit events as JSON lines on stdout
every command accepts --json`;

/**
 * oidc-provider 9 prints an "unsupported runtime" warning on import under Node.js 20 (it targets
 * 22+ and works on 20). Commands drop that one line, so a failure leaves exactly its one-line
 * reason on stderr, as scripts rely on; `start` says it once itself after a successful start.
 */
function muteRuntimeWarning(): void {
  const warn = console.warn.bind(console);
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING: Unsupported runtime')) return;
    warn(...args);
  };
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const json = rest.includes('--json');
  const args = rest.filter((a) => a !== '--json');
  const ctx: CommandContext = { json };
  muteRuntimeWarning();
  try {
    const load = command !== undefined && Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (load) return await (await load())(args, ctx);
    switch (command) {
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
