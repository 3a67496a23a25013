// `vaultgate audit verify|export`. verify walks the hash chain and the signed checkpoints: exit 0
// when intact; otherwise exit 1, one line on stderr naming the first bad sequence number, and an
// `audit_chain_broken` alert stored for the operators. export prints the events as JSON lines.
import { AUDIT_ACTIONS } from '../audit/actions.js';
import { createAuditLog } from '../audit/audit-log.js';
import { auditEventView, createAuditQueries, type AuditFilter } from '../audit/queries.js';
import { createPlatformSecrets } from '../crypto/platform-secrets.js';
import { createAlertService } from '../monitoring/alerts.js';
import { createLocalFanout } from '../monitoring/fanout.js';
import { SPECS, subcommandUsage } from './commands.js';
import { CliError, openEnvironment, print, type CommandContext } from './context.js';
import { parseOptions } from './options.js';

function parseTime(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new CliError(`--${flag} must be an ISO 8601 date-time`);
  return t;
}

function parseExport(args: string[]): AuditFilter {
  const { values } = parseOptions(SPECS.auditExport, args);
  if (values.action !== undefined && !(Object.values(AUDIT_ACTIONS) as string[]).includes(values.action))
    throw new CliError(`unknown action ${values.action}`);
  if (values.outcome !== undefined && !['success', 'failure', 'denied'].includes(values.outcome))
    throw new CliError('--outcome must be success, failure or denied');
  return {
    from: parseTime('from', values.from),
    to: parseTime('to', values.to),
    tenantId: values.tenant,
    clientId: values.client,
    action: values.action,
    outcome: values.outcome,
  };
}

export async function auditCommand(args: string[], ctx: CommandContext): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'verify' && sub !== 'export') throw new CliError(subcommandUsage('audit'));
  if (sub === 'verify') parseOptions(SPECS.auditVerify, rest);
  const filter = sub === 'export' ? parseExport(rest) : undefined;
  const env = await openEnvironment();
  try {
    if (filter) {
      // JSON lines whatever --json says: one event per line is the export format.
      for await (const e of createAuditQueries(env.db).walk(filter)) process.stdout.write(`${JSON.stringify(auditEventView(e))}\n`);
      return 0;
    }
    const audit = createAuditLog({ db: env.db, secrets: createPlatformSecrets(env.db, env.master), checkpointIntervalMs: 0 });
    const started = performance.now();
    const result = await audit.verify();
    const ms = Math.round(performance.now() - started);
    if (result.ok) {
      print(
        ctx,
        { ...result, ms },
        `audit chain intact: ${result.events} events, ${result.checkpoints} signed checkpoints, head ${result.head.seq} (${ms} ms)`,
      );
      return 0;
    }
    if (ctx.json) print(ctx, { ...result, ms }, '');
    const noop = { warn: () => undefined };
    const alerts = createAlertService({
      db: env.db,
      fanout: createLocalFanout(),
      dedupWindowMs: 3600_000,
      onNew: () => undefined,
      logger: noop,
    });
    await alerts
      .raise({
        rule: 'audit_chain_broken',
        subject: 'audit-chain',
        tenantId: null,
        severity: 'critical',
        summary: `audit chain verification failed at seq ${result.firstBadSeq} (${result.reason})`,
        evidence: {},
      })
      .catch(() => undefined);
    await alerts.close();
    process.stderr.write(`vaultgate: audit chain broken: first bad sequence number ${result.firstBadSeq} (${result.reason})\n`);
    return 1;
  } finally {
    await env.db.close();
  }
}
