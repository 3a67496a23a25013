// `vaultgate users create|set-role|disable|reset-mfa`: end users who sign in through the
// authorization-code flow. The password comes only from stdin (never argv: it would show in `ps`
// and shell history). Every change is audited in its own transaction (the service does it).
// A role that needs TOTP gets a one-time enrolment code, printed once: hand it to the user on a
// channel other than the password's, the first sign-in asks for it before showing a TOTP key.
import { createAuditLog } from '../audit/audit-log.js';
import { AppError } from '../errors.js';
import { createPlatformSecrets } from '../crypto/platform-secrets.js';
import { MFA_ROLES } from '../lib/roles.js';
import { createUsers, type Users } from '../users/user-service.js';
import type { UserChange } from '../users/user-admin.js';
import { validateNewUser, validateRole } from '../users/user-input.js';
import { SPECS, subcommandUsage } from './commands.js';
import { CliError, openEnvironment, print, type CommandContext } from './context.js';
import { parseOptions } from './options.js';

const SUB_SPECS = {
  create: SPECS.usersCreate,
  'set-role': SPECS.usersSetRole,
  disable: SPECS.usersDisable,
  'reset-mfa': SPECS.usersResetMfa,
} as const;

/** An input rule's refusal (./users/user-input.ts) as the one line the operator sees. */
function judged<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof AppError) throw new CliError(err.detail ?? err.code);
    throw err;
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > 4096) throw new CliError('the password on stdin is too long');
    chunks.push(chunk as Buffer);
  }
  // One trailing newline (echo, heredoc) is not part of the password.
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** Runs fn with a users service on the configured database, audited; input mistakes become one line. */
async function withUsers<T>(fn: (users: Users) => Promise<T>): Promise<T> {
  const env = await openEnvironment();
  const audit = createAuditLog({ db: env.db, secrets: createPlatformSecrets(env.db, env.master), checkpointIntervalMs: 0 });
  try {
    const users = createUsers({ db: env.db, master: env.master, requireMfa: (r) => MFA_ROLES.has(r), audit });
    return await fn(users).catch((err: unknown) => {
      // Weak password, unknown customer or user, duplicate e-mail: one line for the operator.
      if (err instanceof AppError) throw new CliError(err.detail ?? err.code);
      throw err;
    });
  } finally {
    await env.db.close();
  }
}

const codeLines = (c: { enrolment_code?: string | undefined; enrolment_code_expires_at?: string | undefined }) =>
  c.enrolment_code
    ? [`enrolment code: ${c.enrolment_code}  (one use, until ${c.enrolment_code_expires_at}; give it to the user apart from the password)`]
    : [];

function printChange(ctx: CommandContext, change: UserChange): void {
  print(
    ctx,
    change,
    [
      `user_id:   ${change.user_id}`,
      `tenant_id: ${change.tenant_id}`,
      `role:      ${change.role}`,
      `status:    ${change.status}`,
      ...codeLines(change),
    ].join('\n'),
  );
}

export async function usersCommand(args: string[], ctx: CommandContext): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'create' && sub !== 'set-role' && sub !== 'disable' && sub !== 'reset-mfa') throw new CliError(subcommandUsage('users'));
  // Each sub-command parses only its own options: another's is refused by name.
  const values: { tenant?: string; email?: string; 'password-stdin'?: boolean; role?: string; 'customer-id'?: string } = parseOptions(
    SUB_SPECS[sub],
    rest,
  ).values;
  if (!values.tenant) throw new CliError('--tenant NAME is required');
  if (!values.email) throw new CliError('--email E is required');
  const ref = { tenant: values.tenant, email: values.email };

  if (sub === 'set-role') {
    if (!values.role) throw new CliError('--role R is required');
    const role = judged(() => validateRole(values.role));
    printChange(ctx, await withUsers((u) => u.setRole(ref, role)));
    return 0;
  }
  if (sub === 'disable') {
    printChange(ctx, await withUsers((u) => u.disable(ref)));
    return 0;
  }
  if (sub === 'reset-mfa') {
    printChange(ctx, await withUsers((u) => u.resetMfa(ref)));
    return 0;
  }

  if (!values['password-stdin']) throw new CliError('--password-stdin is required (the password is read from stdin, never from arguments)');
  // The whole new user is judged before the password is read (the service judges it again, with the password).
  const user = judged(() =>
    validateNewUser({
      ...ref,
      ...(values.role ? { role: values.role } : {}),
      ...(values['customer-id'] ? { customerId: values['customer-id'] } : {}),
    }),
  );
  const { role } = user;
  const password = await readStdin();
  const created = await withUsers((u) => u.create({ ...user, password }));
  print(
    ctx,
    created,
    [
      `user_id:     ${created.user_id}`,
      `tenant_id:   ${created.tenant_id}`,
      `role:        ${created.role}`,
      ...(created.customer_id ? [`customer_id: ${created.customer_id}`] : []),
      ...(MFA_ROLES.has(role)
        ? ['second factor: TOTP enrolment is required at the first sign-in, with this code:', ...codeLines(created)]
        : []),
    ].join('\n'),
  );
  return 0;
}
