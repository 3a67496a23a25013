// Calls to the console's server (the backend for frontend). The browser never holds a token: the
// session cookie goes along by itself; a change also carries the session's CSRF token.
export interface SessionInfo {
  tenant: string;
  user_id: string;
  /** The console's own client of the tenant. */
  client_id: string;
  role: string;
  scopes: string[];
  csrf: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrf = '';
let signingOut = false;

export async function loadSession(): Promise<SessionInfo | undefined> {
  const res = await fetch('/console/api/session', { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (res.status === 401) return undefined;
  if (!res.ok) throw new ApiError(res.status, 'session_failed', 'The console is not available.');
  const s = (await res.json()) as SessionInfo;
  csrf = s.csrf;
  return s;
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`/console/api${path}`, {
    method,
    credentials: 'same-origin',
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status === 204) return undefined as T;
  const data = (await res.json().catch(() => ({}))) as { code?: string; title?: string; detail?: string };
  if (!res.ok) {
    // The session is over; a sign-out in progress makes its own way to the sign-in page.
    if (res.status === 401 && !signingOut) location.assign('/console/?error=session_ended');
    throw new ApiError(res.status, data.code ?? 'error', data.detail ?? data.title ?? `HTTP ${res.status}`);
  }
  return data as T;
}

export const get = <T>(path: string) => call<T>('GET', path);
export const put = <T>(path: string, body: unknown) => call<T>('PUT', path, body);
export const post = <T>(path: string, body: unknown = {}) => call<T>('POST', path, body);
export const del = <T>(path: string) => call<T>('DELETE', path);
export function signOut(): Promise<void> {
  signingOut = true;
  return call<void>('POST', '/logout');
}

export interface Page<T> {
  data: T[];
  has_more: boolean;
  next_cursor: string | null;
}

export interface Alert {
  id: string;
  rule: string;
  subject: string;
  tenant_id: string | null;
  severity: 'low' | 'medium' | 'high' | 'critical';
  status: 'open' | 'closed';
  summary: string;
  count: number;
  first_seen: string;
  last_seen: string;
  acknowledged_at?: string | null;
  acknowledged_by?: string | null;
}

export interface AuditEvent {
  id: string;
  seq: number;
  time: string;
  action: string;
  outcome: string;
  actor: { tenant_id: string | null; client_id: string | null; user_id: string | null; ip: string | null };
  target: string | null;
  details: Record<string, string | number | boolean | null> | null;
  request_id: string | null;
  prev_hash: string;
  hash: string;
}

export interface Client {
  client_id: string;
  name: string;
  scopes: string[];
  status: string;
  auth_method: string;
  fapi: boolean;
  created_at: string;
}

export interface Review {
  days: number;
  clients: Array<{
    client_id: string;
    name: string;
    status: string;
    registered: string[];
    exercised: string[];
    unused: string[];
    idle: boolean;
    last_used_at: string | null;
  }>;
}

export interface UsageGroup {
  client_id: string | null;
  route?: string | null;
  status_class: string | null;
  requests: number;
  rate_limited: number;
  latency_ms: { p50: number; p95: number; p99: number };
}

export interface Usage {
  from: string;
  to: string;
  groups: UsageGroup[];
}

export interface KeyStatus {
  provider: string;
  active_version: number | null;
  versions: Array<{ version: number; status: string; source: string; created_at: string; retired_at: string | null; data_keys: number }>;
  destroyed_data_keys: number;
  receipt_keys: Array<{ kid: string; current: boolean }>;
}

export interface KeyRotation {
  new_version: number;
  retired_versions: number[];
  rewrapped: number;
  batches: number;
  duration_ms: number;
}

export interface User {
  id: string;
  role: string;
  status: 'active' | 'disabled';
  customer_id: string | null;
  mfa: 'enrolled' | 'none';
  created_at: string;
}

export interface UserChange {
  user_id: string;
  /** The console's own client of the tenant. */
  client_id: string;
  role: string;
  status: string;
  enrolment_code?: string;
  enrolment_code_expires_at?: string;
}

export interface WebhookEndpoint {
  id: string;
  url: string;
  events: string[];
  status: 'active' | 'disabled';
  created_at: string;
  disabled_at: string | null;
}

export interface Delivery {
  id: string;
  event_id: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  next_attempt_at: string | null;
  last_attempt_at: string | null;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

export interface ScanReport {
  id: string;
  trigger: string;
  report: {
    target: string;
    started_at: string;
    finished_at: string;
    requests_sent: number;
    checks: Array<{ id: string; owasp: string; operations_tested: number; note?: string }>;
    findings: Array<{
      check: string;
      owasp: string;
      severity: string;
      method: string;
      path: string;
      evidence: string;
      remediation: string;
    }>;
    posture?: Array<{ id: string; severity: string; title: string; detail: string; remediation: string }>;
  };
}

export interface ScanSummary {
  id: string;
  started_at: string;
  finished_at: string;
  trigger: string;
  requests_sent: number;
  findings: { high: number; medium: number; low: number; info: number };
}
