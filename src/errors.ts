// The one error model of the API: a stable `code`, mapped to its HTTP status in one table,
// rendered as RFC 9457 problem+json. Only AppErrors reach a client with their detail; anything
// else becomes a generic 500 (never a library message, stack, SQL or path).

export const ERROR_STATUS = {
  validation_failed: 400,
  invalid_request: 400,
  invalid_token: 401,
  invalid_dpop_proof: 401,
  session_required: 401,
  session_ended: 401,
  insufficient_scope: 403,
  forbidden: 403,
  consent_mismatch: 403,
  consent_exhausted: 403,
  consent_expired: 403,
  csrf_failed: 403,
  not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  conflict: 409,
  idempotency_key_reused: 409,
  idempotency_key_in_use: 409,
  hold_not_pending: 409,
  account_frozen: 409,
  tenant_frozen: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  headers_too_large: 431,
  insufficient_funds: 422,
  currency_mismatch: 422,
  same_account: 422,
  account_closed: 422,
  customer_erased: 422,
  velocity_limit_exceeded: 422,
  amount_above_maximum: 422,
  settlement_floor_reached: 422,
  amount_above_hold: 422,
  amount_above_reversible: 422,
  not_reversible: 422,
  webhook_url_refused: 422,
  rate_limited: 429,
  too_many_streams: 429,
  internal_error: 500,
  upstream_unreachable: 502,
  upstream_error: 502,
  service_unavailable: 503,
  upstream_unavailable: 503,
  upstream_timeout: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

const TITLES: Record<ErrorCode, string> = {
  validation_failed: 'The request is not valid',
  invalid_request: 'The request is malformed',
  invalid_token: 'Authentication is required',
  invalid_dpop_proof: 'The DPoP proof is missing, invalid or replayed',
  session_required: 'Sign in to the console',
  session_ended: 'The console session has ended; sign in again',
  insufficient_scope: 'The token lacks the permission this route needs',
  forbidden: 'Forbidden',
  consent_mismatch: 'The request is outside the payment consent this token carries',
  consent_exhausted: 'The payment consent this token carries has already been used',
  consent_expired: 'The payment consent this token carries has expired or was revoked',
  csrf_failed: 'The request did not come from the console (CSRF token or origin)',
  not_found: 'Not found',
  method_not_allowed: 'Method not allowed',
  request_timeout: 'The request took too long to arrive',
  conflict: 'Conflict',
  idempotency_key_reused: 'The Idempotency-Key was already used with another request',
  idempotency_key_in_use: 'A request with this Idempotency-Key is still being processed',
  hold_not_pending: 'The hold is no longer pending (captured, voided or expired)',
  account_frozen: 'The account is frozen: it pays nothing out until it is unfrozen',
  tenant_frozen: "The tenant's money is frozen: no money moves until it is unfrozen",
  payload_too_large: 'The request body is too large',
  unsupported_media_type: 'The request body must be application/json',
  headers_too_large: 'The request headers are too large',
  insufficient_funds: 'The source account has insufficient funds',
  currency_mismatch: 'The currencies do not match',
  same_account: 'Source and destination are the same account',
  account_closed: 'The account is not open',
  customer_erased: 'The customer has been erased',
  velocity_limit_exceeded: 'The transfer exceeds a velocity limit',
  amount_above_maximum: 'The amount is above the maximum allowed for one movement',
  settlement_floor_reached: 'The settlement account would go below its floor',
  amount_above_hold: 'The capture is above the amount held',
  amount_above_reversible: 'The amount is above what remains reversible of the transfer',
  not_reversible: 'The transfer cannot be reversed (it is itself a reversal)',
  webhook_url_refused: 'The webhook URL is not allowed (https, no credentials, a public address)',
  rate_limited: 'Too many requests',
  too_many_streams: 'Too many open streams for this client',
  internal_error: 'Internal error',
  upstream_unreachable: 'The upstream service could not be reached',
  upstream_error: 'The upstream service failed',
  service_unavailable: 'Service unavailable',
  upstream_unavailable: 'The upstream service is unavailable (circuit open)',
  upstream_timeout: 'The upstream service did not answer in time',
};

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string | undefined;
  /** Extra response headers (WWW-Authenticate, Retry-After…). */
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, detail?: string, headers: Record<string, string> = {}) {
    super(detail ?? TITLES[code]);
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.detail = detail;
    this.headers = headers;
  }
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail?: string;
  request_id: string;
}

export function toProblem(err: AppError, requestId: string): Problem {
  const problem: Problem = {
    type: `https://vaultgate.dev/problems/${err.code.replaceAll('_', '-')}`,
    title: TITLES[err.code],
    status: err.status,
    code: err.code,
    request_id: requestId,
  };
  if (err.detail !== undefined) problem.detail = err.detail;
  return problem;
}

/** Configuration or programming mistakes found at start: one clear line, then exit. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
