// The scanner engine: runs every check of the table against one target within one request
// budget, and returns the report of docs/contract.md §8. A check that fails is a defect of the
// scanner, recorded as a note on that check; it never stops the others. The budget running out
// stops the scan where it is, and the report says which checks it cut short.
import { randomBytes } from 'node:crypto';
import { openCallbackListener, type CallbackListener } from './callback.js';
import { CHECKS } from './checks/index.js';
import { basePathOf, buildPath, callOperation, type Check, type CheckContext, type Discovery, type Observed } from './context.js';
import { discover } from './discovery.js';
import { BudgetExhausted, ScanAborted, createScanHttp, type ScanHttp } from './http.js';
import { ObjectPool } from './objects.js';
import { parseDocument } from './openapi.js';
import { principal, type Principal, type PrincipalName } from './principals.js';
import { sample } from './schema.js';
import { scrub } from './scrub.js';
import { removeCreated, seedObjects } from './seed.js';
import { DEFAULT_BURST, DEFAULT_RATE, type ScanOptions, type ScanTarget } from './target.js';
import { bySeverity, type CheckSummary, type Finding, type ScanReport } from './types.js';

export { CHECKS };

/** Checks by id: an unknown id in `options.checks` is a caller's mistake. */
export function selectChecks(ids: readonly string[] | undefined): readonly Check[] {
  if (!ids) return CHECKS;
  const unknown = ids.filter((id) => !CHECKS.some((c) => c.id === id));
  if (unknown.length > 0) throw new Error(`unknown check(s): ${unknown.join(', ')}`);
  return CHECKS.filter((c) => ids.includes(c.id));
}

export interface RunOptions extends ScanOptions {
  /** An HTTP client already used for setup (its requests count against the same budget). */
  http?: ScanHttp | undefined;
}

export async function runScan(target: ScanTarget, options: RunOptions): Promise<ScanReport> {
  const startedAt = new Date();
  const checks = selectChecks(options.checks);
  const doc = parseDocument(target.document);
  const http =
    options.http ??
    createScanHttp({
      baseUrl: target.baseUrl,
      maxRequests: options.maxRequests,
      requestsPerSecond: options.requestsPerSecond ?? DEFAULT_RATE,
      ca: target.ca,
      signal: options.signal,
    });
  const principals: Partial<Record<PrincipalName, Principal>> = {};
  for (const name of ['a', 'b', 'low'] as const) {
    const token = target.tokens[name];
    if (token) principals[name] = principal(name, token);
  }
  const known = [
    ...Object.values(target.tokens).filter((t): t is string => typeof t === 'string'),
    ...(target.dpop ? [target.dpop.token] : []),
    ...(target.secrets ?? []),
  ];

  const findings: Finding[] = [];
  const observed: Observed[] = [];
  let current: Check | undefined;
  const pool = new ObjectPool();
  let seeded: Promise<ObjectPool> | undefined;
  let discovery: Promise<Discovery> | undefined;
  let listener: Promise<CallbackListener> | undefined;
  const marker = `vgscan${randomBytes(4).toString('hex')}`;

  const ctx: CheckContext = {
    http,
    doc,
    target,
    principals,
    marker,
    settings: { burst: options.burst ?? DEFAULT_BURST, callbackWaitMs: options.callbackWaitMs ?? 1500 },
    observed,
    objects: () => (seeded ??= seedObjects(ctx, pool).then(() => pool)),
    discovery: () => (discovery ??= discover(http, doc)),
    callback: () => (listener ??= openCallbackListener()),
    report(o) {
      const check = current as Check;
      // One finding per check and operation: the first confirmed evidence says enough.
      if (findings.some((f) => f.check === check.id && f.method === o.method && f.path === o.path)) return;
      findings.push({
        check: check.id,
        owasp: check.owasp,
        severity: check.severity,
        method: o.method,
        path: o.path,
        evidence: scrub(o.evidence, known),
        remediation: check.remediation,
      });
    },
    call: (op, who, callOptions) => callOperation(ctx, pool, op, who, callOptions),
    sampleBody(op, owner = 'a') {
      const used = new Set<string>();
      return sample(op.body ?? {}, { marker, idFor: (name, schema) => pool.idFor(owner, name, schema, used) });
    },
    pathOf: (op, values) => buildPath(basePathOf(http, doc), op, values),
  };

  const summaries: CheckSummary[] = [];
  let stopped: string | undefined;
  try {
    for (const check of checks) {
      const summary: CheckSummary = { id: check.id, owasp: check.owasp, operations_tested: 0 };
      summaries.push(summary);
      if (stopped) {
        summary.note = stopped;
        continue;
      }
      current = check;
      try {
        const result = await check.run(ctx);
        if (typeof result === 'number') summary.operations_tested = result;
        else Object.assign(summary, { operations_tested: result.tested, note: result.note });
      } catch (err) {
        if (err instanceof BudgetExhausted) stopped = `not run: the request budget (--max-requests ${options.maxRequests}) was spent`;
        else if (err instanceof ScanAborted) stopped = 'not run: the scan was interrupted';
        else summary.note = `the check failed (${(err as Error | undefined)?.name ?? 'error'}); its result is incomplete`;
        if (stopped) summary.note = stopped.replace('not run', 'cut short');
      }
    }
  } finally {
    // What the scan created goes again, within what is left of the budget.
    if (seeded) await removeCreated(ctx, pool).catch(() => undefined);
    if (listener) await (await listener).close();
    if (!options.http) await http.close();
  }

  return {
    target: target.baseUrl,
    started_at: startedAt.toISOString(),
    finished_at: new Date().toISOString(),
    requests_sent: http.sent(),
    checks: summaries,
    findings: findings.sort(bySeverity),
  };
}
