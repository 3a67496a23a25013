// GET /v1/security/scans and /v1/security/scans/latest (docs/contract.md §8): the self-audit's
// reports, for the platform's auditors. The reports describe the whole platform, so only a
// principal of the platform tenant reads them; another tenant's auditor is refused.
import Type from 'typebox';
import { AppError } from '../errors.js';
import { defineRoute, type ApiRoute } from '../gateway/route-table.js';
import { problemResponses, StringEnum, Strict } from '../gateway/schemas.js';
import type { Principal } from '../lib/principal.js';
import { SEVERITIES } from '../scan/types.js';
import type { ScanStore } from './store.js';

const OWASP = [
  'API1:2023',
  'API2:2023',
  'API3:2023',
  'API4:2023',
  'API5:2023',
  'API6:2023',
  'API7:2023',
  'API8:2023',
  'API9:2023',
  'API10:2023',
];

const summarySchema = Strict({
  id: Type.String(),
  started_at: Type.String({ format: 'date-time' }),
  finished_at: Type.String({ format: 'date-time' }),
  trigger: Type.String(),
  requests_sent: Type.Integer(),
  findings: Strict({ high: Type.Integer(), medium: Type.Integer(), low: Type.Integer(), info: Type.Integer() }),
});

const reportSchema = Strict({
  target: Type.String(),
  started_at: Type.String({ format: 'date-time' }),
  finished_at: Type.String({ format: 'date-time' }),
  requests_sent: Type.Integer(),
  checks: Type.Array(
    Strict({ id: Type.String(), owasp: StringEnum(OWASP), operations_tested: Type.Integer(), note: Type.Optional(Type.String()) }),
  ),
  findings: Type.Array(
    Strict({
      check: Type.String(),
      owasp: StringEnum(OWASP),
      severity: StringEnum(SEVERITIES),
      method: Type.String(),
      path: Type.String(),
      evidence: Type.String(),
      remediation: Type.String(),
    }),
  ),
  posture: Type.Optional(
    Type.Array(
      Strict({
        id: Type.String(),
        severity: StringEnum(SEVERITIES),
        title: Type.String(),
        detail: Type.String(),
        remediation: Type.String(),
      }),
    ),
  ),
});

export function securityScanRoutes(deps: {
  store: ScanStore;
  seesAllTenants(principal: Principal): Promise<boolean>;
  /** Starts a scan in the background; false when one is running already. */
  startScan?: (() => boolean) | undefined;
}): ApiRoute[] {
  const platformOnly = async (principal: Principal) => {
    if (!(await deps.seesAllTenants(principal))) throw new AppError('forbidden', 'Security scans are read by the platform tenant');
  };
  return [
    defineRoute({
      method: 'POST',
      url: '/v1/security/scans',
      tag: 'audit',
      summary: 'Run the self-audit now, in the background (the report is at /v1/security/scans/latest once done)',
      permission: 'scans:run',
      operationId: 'security_scan.run',
      rateLimit: 'admin',
      schema: { body: Strict({}), response: { 202: Strict({ status: StringEnum(['started']) }), ...problemResponses } },
      async handler({ principal }) {
        await platformOnly(principal);
        if (!deps.startScan) throw new AppError('service_unavailable', 'Scans cannot run on this node');
        if (!deps.startScan()) throw new AppError('conflict', 'A scan is running already');
        return { status: 202, body: { status: 'started' as const } };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/security/scans',
      tag: 'audit',
      summary: 'The self-audit reports, newest first (counts by severity)',
      permission: 'audit:read',
      operationId: 'security_scan.list',
      rateLimit: 'read',
      schema: {
        querystring: Strict({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 20 })) }),
        response: { 200: Strict({ data: Type.Array(summarySchema) }), ...problemResponses },
      },
      async handler({ principal, query }) {
        await platformOnly(principal);
        return { status: 200, body: { data: await deps.store.list(query.limit ?? 20) } };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/security/scans/latest',
      tag: 'audit',
      summary: 'The latest self-audit report, whole',
      permission: 'audit:read',
      operationId: 'security_scan.latest',
      rateLimit: 'read',
      schema: {
        response: { 200: Strict({ id: Type.String(), trigger: Type.String(), report: reportSchema }), ...problemResponses },
      },
      async handler({ principal }) {
        await platformOnly(principal);
        const latest = await deps.store.latest();
        if (latest === undefined) throw new AppError('not_found', 'No scan has run yet');
        return { status: 200, body: latest };
      },
    }),
  ];
}
