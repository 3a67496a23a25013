// `vaultgate users create`: an end user who signs in through the authorization-code flow.
// The password comes only from stdin (never argv: it would show in `ps` and shell history).
import { parseArgs } from 'node:util';
import { createAuditLog } from '../audit/audit-log.js';
import { AppError } from '../errors.js';
import { createPlatformSecrets } from '../crypto/platform-secrets.js';
import { isRole, MFA_ROLES } from '../identity/roles.js';
import { createUsers } from '../users/user-service.js';
import { CliError, openEnvironment, print, type CommandContext } from './context.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > 4096) throw new CliError('the password on stdin is too long');
    chunks.push(chunk as Buffer);
  }
  // One trailing newline (echo, heredoc) is not part of the password.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export async function usersCommand(args: string[], ctx: CommandContext): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'create') throw new CliError('usage: vaultgate users create --tenant NAME --email E --password-stdin [--role R] [--customer-id ID]');
  const { values, positionals } = parseArgs({
    args: rest, allowPositionals: true, strict: true,
    options: {
      tenant: { type: 'string' }, email: { type: 'string' }, 'password-stdin': { type: 'boolean' }, role: { type: 'string' },
      'customer-id': { type: 'string' },
    },
  });
  if (positionals.length) throw new CliError(`unexpected argument ${positionals[0]}`);
  if (!values.tenant) throw new CliError('--tenant NAME is required');
  if (!values.email) throw new CliError('--email E is required');
  if (!values['password-stdin']) throw new CliError('--password-stdin is required (the password is read from stdin, never from arguments)');
  const role = values.role ?? 'customer';
  if (!isRole(role)) throw new CliError('--role must be customer, operator, auditor or admin');
  const password = await readStdin();

  const env = await openEnvironment();
  try {
    const users = createUsers({ db: env.db, master: env.master, requireMfa: (r) => MFA_ROLES.has(r) });
    const created = await users.create({
      tenant: values.tenant, email: values.email, password, role, ...(values['customer-id'] ? { customerId: values['customer-id'] } : {}),
    }).catch((err: unknown) => {
      // Input mistakes (weak password, unknown customer, duplicate e-mail) are one line for the operator.
      if (err instanceof AppError) throw new CliError(err.detail ?? err.code);
      throw err;
    });
    const audit = createAuditLog({ db: env.db, secrets: createPlatformSecrets(env.db, env.master), checkpointIntervalMs: 0 });
    await audit.record({ action: 'user.create', outcome: 'success', tenantId: created.tenant_id, target: created.user_id, details: { role } });
    print(ctx, created, [
      `user_id:     ${created.user_id}`,
      `tenant_id:   ${created.tenant_id}`,
      `role:        ${created.role}`,
      ...(created.customer_id ? [`customer_id: ${created.customer_id}`] : []),
      ...(MFA_ROLES.has(role) ? ['second factor: TOTP enrolment is required at the first sign-in'] : []),
    ].join('\n'));
    return 0;
  } finally {
    await env.db.close();
  }
}
