// How the console reaches the platform: through the same front door as any client, in process.
// Fastify's inject runs a request through every hook and route of the app (IP rules, rate limits,
// authentication, scopes, validation, audit, the log line), without a socket; the caller's
// address goes along, so per-address limits and audit facts name the person, not this node.
import type { FastifyInstance } from 'fastify';

export interface LoopbackResponse {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  text: string;
}

export interface LoopbackRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path and query, e.g. /v1/alerts?limit=20. */
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** The browser's address. */
  ip: string;
}

export type Loopback = (request: LoopbackRequest) => Promise<LoopbackResponse>;

export function createLoopback(app: FastifyInstance): Loopback {
  return async (r) => {
    const res = await app.inject({
      method: r.method,
      url: r.url,
      headers: r.headers ?? {},
      remoteAddress: r.ip,
      ...(r.body !== undefined ? { payload: r.body } : {}),
    });
    return { status: res.statusCode, headers: res.headers, text: res.body };
  };
}

/** A form body (application/x-www-form-urlencoded), for the authorization server's endpoints. */
export const formBody = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
export const FORM_TYPE = { 'content-type': 'application/x-www-form-urlencoded' };
