// Calls to the console's server (the backend for frontend). The browser never holds a token: the
// session cookie goes along by itself; a change also carries the session's CSRF token.
export interface SessionInfo {
  tenant: string;
  user_id: string;
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

export interface Usage {
  from: string;
  to: string;
  groups: Array<{
    client_id: string | null;
    status_class: string | null;
    requests: number;
    rate_limited: number;
    latency_ms: { p50: number; p95: number; p99: number };
  }>;
}
