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

/** A service behind the gateway, scanned through its route (`vaultgate scan --upstream NAME`). */
export interface UpstreamScan {
  /** The platform's URL and the route's prefix when it is stripped: where the document's paths start. */
  baseUrl: string;
  document: unknown;
  /** The route's scopes, for the throwaway principals A and B. */
  scopes: readonly string[];
}

export async function scanLocalPlatform(
  env: PlatformEnvironment,
  options: { maxRequests: number; signal?: AbortSignal; upstream?: UpstreamScan },
): Promise<ScanReport> {
  const http = createScanHttp({
    baseUrl: env.issuer,
    maxRequests: options.maxRequests,
    requestsPerSecond: DEFAULT_RATE,
    ca: platformCa(env.config),
    signal: options.signal,
  });
  try {
    const { upstream } = options;
    const platform = await prepareLocalPlatform(env, http, upstream ? { scopes: upstream.scopes } : {});
    const target = upstream ? { ...platform.target, baseUrl: upstream.baseUrl, document: upstream.document } : platform.target;
    let report: ScanReport;
    try {
      report = await runScan(target, { maxRequests: options.maxRequests, http, signal: options.signal });
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
