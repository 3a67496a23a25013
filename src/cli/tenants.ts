// `vaultgate tenants freeze|unfreeze TENANT`: containment at the terminal (issue 14, item 7),
// audited like the admin route (actor: cli).
import { createAuditLog } from '../audit/audit-log.js';
import { createFreezes } from '../containment/freeze.js';
import { createPlatformSecrets } from '../crypto/platform-secrets.js';
import { AppError } from '../errors.js';
import { SPECS, subcommandUsage } from './commands.js';
import { CliError, openEnvironment, print, type CommandContext } from './context.js';
import { parseOptions } from './options.js';

export async function tenantsCommand(args: string[], ctx: CommandContext): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'freeze' && sub !== 'unfreeze') throw new CliError(subcommandUsage('tenants'));
  const { values, positionals } = parseOptions(sub === 'freeze' ? SPECS.tenantsFreeze : SPECS.tenantsUnfreeze, rest);
  const [tenant, ...extra] = positionals;
  if (!tenant || extra.length) throw new CliError(`usage: vaultgate tenants ${sub} TENANT${sub === 'freeze' ? ' --reason TEXT' : ''}`);
  const reason = values.reason;
  if (sub === 'freeze' && !reason) throw new CliError('--reason TEXT is required: the audit log says why');
  if (reason !== undefined && (reason.length < 1 || reason.length > 500)) throw new CliError('--reason must be 1..500 characters');

  const env = await openEnvironment();
  try {
    const audit = createAuditLog({ db: env.db, secrets: createPlatformSecrets(env.db, env.master), checkpointIntervalMs: 0 });
    const freezes = createFreezes({ db: env.db, audit });
    const actor = { via: 'cli' as const };
    const row = await (
      sub === 'freeze' ? freezes.freezeTenant(tenant, reason as string, actor) : freezes.unfreezeTenant(tenant, reason, actor)
    ).catch((err: unknown) => {
      if (err instanceof AppError && err.code === 'not_found') throw new CliError(`no tenant ${tenant}`);
      throw err;
    });
    const frozen = sub === 'freeze';
    print(
      ctx,
      { id: row.id, name: row.name, money_frozen: frozen },
      frozen
        ? `froze ${row.name} (${row.id}): no money moves until "vaultgate tenants unfreeze ${row.name}"`
        : `unfroze ${row.name} (${row.id})`,
    );
    return 0;
  } finally {
    await env.db.close();
  }
}
