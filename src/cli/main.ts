// `vaultgate <command>`: thin commands that parse arguments, call a service and print.
// With --json a command prints one JSON document on stdout and nothing else there.
import { ConfigError } from '../errors.js';
import { SPECS, subcommandUsage, subcommands } from './commands.js';
import { CliError, type CommandContext } from './context.js';
import { HelpRequested, helpText, usageLine, type CommandSpec } from './options.js';

// Each command is imported only when run: `keys` or `backup` need not load the authorization server.
type Command = (args: string[], ctx: CommandContext) => Promise<number>;
const COMMANDS: Record<string, () => Promise<Command>> = {
  start: async () => (await import('./start.js')).startCommand,
  migrate: async () => (await import('./migrate.js')).migrateCommand,
  clients: async () => (await import('./clients.js')).clientsCommand,
  audit: async () => (await import('./audit.js')).auditCommand,
  users: async () => (await import('./users.js')).usersCommand,
  keys: async () => (await import('./keys.js')).keysCommand,
  tenants: async () => (await import('./tenants.js')).tenantsCommand,
  receipts: async () => (await import('./receipts.js')).receiptsCommand,
  backup: async () => (await import('./backup.js')).backupCommand,
  restore: async () => (await import('./backup.js')).restoreCommand,
  usage: async () => (await import('./usage.js')).usageCommand,
  doctor: async () => (await import('./doctor.js')).doctorCommand,
  scan: async () => (await import('./scan.js')).scanCommand,
  compliance: async () => (await import('./compliance.js')).complianceCommand,
};

/** The whole CLI at a glance, from the same table every command parses with. */
function usage(): string {
  const lines = Object.values(SPECS).map((spec: CommandSpec) => `  ${usageLine(spec).replace(/^vaultgate /, '')}\n      ${spec.summary}`);
  return [
    'usage: vaultgate <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    'every command accepts --json and --help (vaultgate COMMAND --help)',
  ].join('\n');
}

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
    if (load) {
      // `vaultgate clients --help`: the sub-commands (a sub-command's own --help is its parser's).
      const [first] = args;
      if (subcommands(command as string).length > 0 && (first === undefined || first === '--help' || first === 'help')) {
        process.stdout.write(`${subcommandUsage(command as string)}\n`);
        return first === undefined ? 2 : 0;
      }
      return await (
        await load()
      )(args, ctx);
    }
    switch (command) {
      case undefined:
      case 'help':
      case '--help':
        process.stdout.write(`${usage()}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new CliError(`unknown command "${command}" (see vaultgate --help)`);
    }
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(`${helpText(err.spec)}\n`);
      return 0;
    }
    if (err instanceof CliError || err instanceof ConfigError) {
      process.stderr.write(`vaultgate: ${err.message}\n`);
      return 2;
    }
    // Never a stack or a library message on the terminal of an operator's script.
    process.stderr.write(
      `vaultgate: ${command} failed unexpectedly (${(err as Error)?.name ?? 'error'}); VAULTGATE_LOG_LEVEL=debug prints the stack\n`,
    );
    if (process.env.VAULTGATE_LOG_LEVEL === 'debug') process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
    return 1;
  }
}
