// The scanner's one way out: every probe (HTTP request or TLS handshake) takes one unit of the
// request budget (--max-requests) and waits its turn at a polite rate. Requests never leave the
// target's origin: a check that builds a URL elsewhere is a scanner bug, refused here.
import { Agent, request, type Dispatcher } from 'undici';

export class BudgetExhausted extends Error {
  constructor() {
    super('request budget spent');
  }
}

export class ScanAborted extends Error {
  constructor() {
    super('scan aborted');
  }
}

export interface ScanHttpOptions {
  /** The target: origin plus an optional base path. */
  baseUrl: string;
  maxRequests: number;
  /** Polite pacing; 0 sends as fast as the target answers. */
  requestsPerSecond: number;
  /** Extra certificate authorities to trust (a development certificate). */
  ca?: string | undefined;
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
}

export interface ScanRequest {
  method: string;
  /** A path on the target's origin (`/v1/x?y=1`) or an absolute URL of that origin. */
  url: string;
  headers?: Record<string, string>;
  /** Serialized as JSON with `content-type: application/json`. */
  json?: unknown;
  /** Sent as-is (set content-type yourself). */
  body?: string | Buffer;
  /** false for the bounded bursts of the rate-limit check: no pacing, still counted. */
  paced?: boolean;
  /** Send from the alternate loopback source address (credential-guessing probes). */
  alternateSource?: boolean;
}

export interface ScanResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  text: string;
  json: unknown;
  contentType: string;
  /** Set when no HTTP answer came (status 0): the error's code. */
  error?: string;
}

const MAX_BODY = 1024 * 1024;

export interface ScanHttp {
  readonly origin: string;
  /** The target's base path without a trailing slash ('' for the root). */
  readonly basePath: string;
  send(req: ScanRequest): Promise<ScanResponse>;
  /** Takes one unit of budget for a probe that is not an HTTP request (a TLS handshake). */
  take(): Promise<void>;
  /** Probes left in the budget. */
  remaining(): number;
  sent(): number;
  ca(): string | undefined;
  close(): Promise<void>;
}

function flattenHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

async function readBody(body: Dispatcher.ResponseData['body'], contentType: string): Promise<string> {
  // An event stream never ends: its headers are all a check needs.
  if (contentType.startsWith('text/event-stream')) {
    body.destroy();
    return '';
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    chunks.push(b);
    size += b.length;
    if (size >= MAX_BODY) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, MAX_BODY).toString('utf8');
}

function parseJson(text: string, contentType: string): unknown {
  if (!/json/i.test(contentType) || text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function errorCode(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === 'string' ? code : ((err as Error | null)?.name ?? 'error');
}

export function createScanHttp(options: ScanHttpOptions): ScanHttp {
  const base = new URL(options.baseUrl);
  const origin = base.origin;
  const basePath = base.pathname.replace(/\/+$/, '');
  const connect = { ...(options.ca ? { ca: options.ca } : {}) };
  const timeout = options.timeoutMs ?? 10_000;
  const agent = new Agent({ connect, headersTimeout: timeout, bodyTimeout: timeout, keepAliveTimeout: 4_000 });
  let alternate: Agent | undefined;
  // A fresh one per scan: an earlier scan's lockout must not decide this scan's answers.
  const alternateAddress = `127.0.0.${2 + Math.floor(Math.random() * 253)}`;
  let alternateWorks = true;
  let sent = 0;
  let nextSlot = 0;
  const interval = options.requestsPerSecond > 0 ? 1000 / options.requestsPerSecond : 0;

  async function take(paced = true): Promise<void> {
    if (options.signal?.aborted) throw new ScanAborted();
    if (sent >= options.maxRequests) throw new BudgetExhausted();
    sent += 1;
    if (!paced || interval === 0) return;
    const now = Date.now();
    const wait = nextSlot - now;
    nextSlot = Math.max(now, nextSlot) + interval;
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }

  /**
   * Credential-guessing probes come from another loopback address (127.0.0.2–254) when the
   * target is on loopback: the lockout they provoke then falls on that address, not on the one
   * the scan minted its tokens from (nor on the next scan's guesses).
   */
  function dispatcherFor(req: ScanRequest): Agent {
    if (!req.alternateSource || !alternateWorks || !/^(127\.|localhost$)/.test(base.hostname)) return agent;
    alternate ??= new Agent({ connect: { ...connect, localAddress: alternateAddress }, headersTimeout: timeout, bodyTimeout: timeout });
    return alternate;
  }

  async function send(req: ScanRequest): Promise<ScanResponse> {
    const url = new URL(req.url, `${origin}/`);
    if (url.origin !== origin) throw new Error(`scan: refusing a request outside the target (${url.origin})`);
    await take(req.paced ?? true);
    const headers: Record<string, string> = { 'user-agent': 'vaultgate-scan', ...(req.headers ?? {}) };
    let body: string | Buffer | undefined = req.body;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers['content-type'] ??= 'application/json';
    }
    const attempt = async (dispatcher: Agent): Promise<ScanResponse> => {
      const res = await request(url, {
        method: req.method,
        headers,
        ...(body !== undefined ? { body } : {}),
        dispatcher,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const flat = flattenHeaders(res.headers);
      const contentType = flat['content-type'] ?? '';
      const text = await readBody(res.body, contentType);
      return { status: res.statusCode, headers: flat, text, json: parseJson(text, contentType), contentType };
    };
    const dispatcher = dispatcherFor(req);
    try {
      return await attempt(dispatcher);
    } catch (err) {
      if (options.signal?.aborted) throw new ScanAborted();
      if (dispatcher !== agent && /EADDRNOTAVAIL|EINVAL|EADDRINUSE/.test(errorCode(err))) {
        // This machine has no 127.0.0.2 (macOS, an IPv6 localhost): the usual source address then.
        alternateWorks = false;
        return attempt(agent).catch((e: unknown) => ({
          status: 0,
          headers: {},
          text: '',
          json: undefined,
          contentType: '',
          error: errorCode(e),
        }));
      }
      return { status: 0, headers: {}, text: '', json: undefined, contentType: '', error: errorCode(err) };
    }
  }

  return {
    origin,
    basePath,
    send,
    take: () => take(true),
    remaining: () => Math.max(0, options.maxRequests - sent),
    sent: () => sent,
    ca: () => options.ca,
    async close() {
      await Promise.all([agent.close(), alternate?.close()]);
    },
  };
}
