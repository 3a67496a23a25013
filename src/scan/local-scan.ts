// The scan of the local platform, start to end: its throwaway principals (local-platform.ts), the
// checks, the clean-up whatever happens, and the posture check of its configuration as the
// report's `posture` section. `vaultgate scan` without --target and the scheduled self-audit
// (security-scans/schedule.ts) both run this.
import { gatherPostureFacts } from '../doctor/gather.js';
import { postureFindings } from '../doctor/posture.js';
import { createUsageTracker } from '../identity/usage.js';
import { runScan } from './engine.js';
import { createScanHttp } from './http.js';
import { platformCa, prepareLocalPlatform, type PlatformEnvironment } from './local-platform.js';
import { DEFAULT_RATE } from './target.js';
import type { ScanReport } from './types.js';

export async function scanLocalPlatform(
  env: PlatformEnvironment,
  options: { maxRequests: number; signal?: AbortSignal },
): Promise<ScanReport> {
  const http = createScanHttp({
    baseUrl: env.issuer,
    maxRequests: options.maxRequests,
    requestsPerSecond: DEFAULT_RATE,
    ca: platformCa(env.config),
    signal: options.signal,
  });
  try {
    const platform = await prepareLocalPlatform(env, http);
    let report: ScanReport;
    try {
      report = await runScan(platform.target, { maxRequests: options.maxRequests, http, signal: options.signal });
    } finally {
      await platform.cleanup();
    }
    const usage = createUsageTracker(env.db, () => undefined);
    try {
      return { ...report, posture: postureFindings(await gatherPostureFacts({ config: env.config, db: env.db, usage })) };
    } finally {
      await usage.close();
    }
  } finally {
    await http.close();
  }
}
