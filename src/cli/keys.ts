// `vaultgate keys status|rotate`: the KEK ring and what each version still wraps; online rotation.
import { AUDIT_ACTIONS } from '../audit/actions.js';
import { createAuditLog } from '../audit/audit-log.js';
import { createDataKeys } from '../crypto/data-keys.js';
import { createPlatformSecrets } from '../crypto/platform-secrets.js';
import { keyStatus, rotateKek } from '../crypto/key-rotation.js';
import { SPECS, subcommandUsage } from './commands.js';
import { CliError, openEnvironment, print, type CommandContext } from './context.js';
import { parseOptions } from './options.js';

export async function keysCommand(args: string[], ctx: CommandContext): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'status' && sub !== 'rotate') throw new CliError(subcommandUsage('keys'));
  const values: { 'batch-size'?: string } =
    sub === 'rotate' ? parseOptions(SPECS.keysRotate, rest).values : parseOptions(SPECS.keysStatus, rest).values;
  const batchSize = values['batch-size'] === undefined ? 200 : Number(values['batch-size']);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new CliError('--batch-size must be an integer 1..10000');

  const env = await openEnvironment();
  try {
    const dataKeys = createDataKeys(env.master, { engine: env.db.engine });
    if (sub === 'rotate') {
      const audit = createAuditLog({ db: env.db, secrets: createPlatformSecrets(env.db, env.master), checkpointIntervalMs: 0 });
      let report: Awaited<ReturnType<typeof rotateKek>>;
      try {
        report = await rotateKek(env.db, dataKeys, { batchSize });
      } catch (err) {
        await audit.record({ action: AUDIT_ACTIONS.keyRotated, outcome: 'failure', details: { actor: 'cli' } }).catch(() => undefined);
        throw err;
      }
      // Key changes are audited (issue 3); the event names versions and counts, never key material.
      await audit.record({
        action: AUDIT_ACTIONS.keyRotated,
        outcome: 'success',
        target: `kek-v${report.new_version}`,
        details: { actor: 'cli', rewrapped: report.rewrapped, retired: report.retired_versions.join(',') },
      });
      print(
        ctx,
        report,
        [
          `KEK version ${report.new_version} is active`,
          `re-wrapped ${report.rewrapped} data key(s) in ${report.batches} batch(es), ${report.duration_ms} ms`,
          `retired version(s): ${report.retired_versions.join(', ') || '(none)'}`,
        ].join('\n'),
      );
      return 0;
    }
    const status = await keyStatus(env.db, dataKeys);
    print(
      ctx,
      status,
      [
        `provider: ${status.provider}`,
        `active KEK version: ${status.active_version ?? '(none)'}`,
        ...status.versions.map(
          (v) =>
            `  v${v.version}  ${v.status.padEnd(8)}  ${v.source.padEnd(8)}  wraps ${v.data_keys} data key(s)${v.retired_at ? `  retired ${v.retired_at}` : ''}`,
        ),
        `destroyed (erased) data keys: ${status.destroyed_data_keys}`,
      ].join('\n'),
    );
    return 0;
  } finally {
    await env.db.close();
  }
}
