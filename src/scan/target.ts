// What the engine is told about a target: where it is, its OpenAPI document, the principals'
// tokens, and what the local platform can add (a DPoP-bound token with its key, and its own
// signing key, so that expired or wrong-audience tokens are validly signed and test the checks
// themselves rather than the signature).
import type { JWTPayload } from 'jose';

export interface DpopPrincipal {
  token: string;
  /** A DPoP proof (RFC 9449 §4) for one request with this token. */
  proof(method: string, url: string): Promise<string>;
}

export interface TokenSigner {
  /** A token with these claims signed by the target's own key (header: alg, kid, typ). */
  sign(claims: JWTPayload): Promise<string>;
}

export interface ScanTarget {
  /** The API's base URL: origin plus an optional base path. */
  baseUrl: string;
  /** The OpenAPI 3.x document, parsed JSON. */
  document: unknown;
  tokens: { a?: string | undefined; b?: string | undefined; low?: string | undefined };
  dpop?: DpopPrincipal | undefined;
  signer?: TokenSigner | undefined;
  /** More values that must never appear in a report (client secrets). */
  secrets?: string[] | undefined;
  /** Extra CA certificates (PEM) to trust, e.g. the platform's development certificate. */
  ca?: string | undefined;
}

export interface ScanOptions {
  /** At most this many probes (HTTP requests and TLS handshakes), setup included. */
  maxRequests: number;
  /** Polite pacing (default 50 per second); 0 for none. */
  requestsPerSecond?: number | undefined;
  /** Run only these checks (ids); default all. */
  checks?: readonly string[] | undefined;
  /** The size of the bounded burst of the rate-limit check (default 30). */
  burst?: number | undefined;
  /** How long the SSRF check waits for the target to call back (default 1500 ms). */
  callbackWaitMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

export const DEFAULT_RATE = 50;
export const DEFAULT_BURST = 30;
