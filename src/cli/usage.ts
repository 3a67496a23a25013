// `vaultgate usage [--since 1h] [--group-by client,route]`: the usage report of GET /v1/admin/usage
// (docs/contract.md §7), every tenant's, read from the database the nodes flush into.
import { AppError } from '../errors.js';
import { parseGroupBy, usageWindow } from '../analytics/routes.js';
import { queryUsage, type UsageGroup } from '../analytics/usage-queries.js';
import { SPECS } from './commands.js';
import { CliError, openEnvironment, print, type CommandContext } from './context.js';
import { parseOptions } from './options.js';

const UNITS: Record<string, number> = { m: 60_000, h: 3600_000, d: 86_400_000 };

/** `90m`, `1h`, `7d` → milliseconds. */
export function parseSince(value: string | undefined): number {
  if (value === undefined) return UNITS.h!;
  const m = /^([1-9][0-9]{0,4})([mhd])$/.exec(value);
  if (!m) throw new CliError('--since must be a duration such as 30m, 1h or 7d');
  return Number(m[1]) * UNITS[m[2]!]!;
}

function row(g: UsageGroup): string {
  const key = [g.client_id === '' ? '(anonymous)' : g.client_id, g.route, g.status_class].filter((v) => v !== null).join('  ');
  const l = g.latency_ms;
  return `${key}  requests=${g.requests} rate_limited=${g.rate_limited} p50=${l.p50}ms p95=${l.p95}ms p99=${l.p99}ms in=${g.bytes_in}B out=${g.bytes_out}B`;
}

export async function usageCommand(args: string[], ctx: CommandContext): Promise<number> {
  const { values } = parseOptions(SPECS.usage, args);
  const now = Date.now();
  let query;
  try {
    const window = usageWindow(new Date(now - parseSince(values.since)).toISOString(), new Date(now).toISOString(), now);
    query = { ...window, tenantId: undefined, groupBy: parseGroupBy(values['group-by']) };
  } catch (err) {
    if (err instanceof AppError) throw new CliError(err.message.replace(/^group_by/, '--group-by'));
    throw err;
  }
  const env = await openEnvironment();
  try {
    const report = await queryUsage(env.db, query);
    const lines = report.groups.length === 0 ? ['no requests in the window'] : report.groups.map(row);
    print(ctx, report, [`usage ${report.from} → ${report.to}`, ...lines].join('\n'));
    return 0;
  } finally {
    await env.db.close();
  }
}
