// `vaultgate doctor`: the posture check of this deployment (its configuration, files and database;
// issue 12). Exit 1 when a finding is high, so a deployment pipeline can stop on it.
import { loadConfig } from '../config.js';
import { gatherPostureFacts } from '../doctor/gather.js';
import { postureFindings } from '../doctor/posture.js';
import { createUsageTracker } from '../identity/usage.js';
import { SPECS } from './commands.js';
import { print, type CommandContext } from './context.js';
import { openDatabase } from '../storage/index.js';
import { parseOptions } from './options.js';

export async function doctorCommand(args: string[], ctx: CommandContext): Promise<number> {
  parseOptions(SPECS.doctor, args);
  // Not openEnvironment: the master key is not opened (a key with unsafe permissions is one of the
  // findings, and opening it would refuse to go on), and nothing here needs it.
  const config = loadConfig();
  const db = await openDatabase(config.database);
  try {
    await db.migrate();
    const usage = createUsageTracker(db, () => undefined);
    const findings = postureFindings(await gatherPostureFacts({ config, db, usage }));
    await usage.close();
    print(
      ctx,
      { findings },
      findings.length === 0
        ? 'no configuration risk found'
        : findings
            .map((f) => `${f.severity.toUpperCase().padEnd(6)} ${f.id}: ${f.title}\n       ${f.detail}\n       fix: ${f.remediation}`)
            .join('\n'),
    );
    return findings.some((f) => f.severity === 'high') ? 1 : 0;
  } finally {
    await db.close();
  }
}
