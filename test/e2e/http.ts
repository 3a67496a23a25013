// A small HTTPS client for tests: trusts the server's development certificate, keeps connections
// alive, returns status, headers and the body as text and JSON.
import { Agent, request } from 'node:https';

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: any;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a string is sent as-is. */
  body?: unknown;
  token?: string;
}

export function createClient(baseUrl: string, ca?: Buffer) {
  const agent = new Agent({ keepAlive: true, maxSockets: 64, ...(ca ? { ca } : { rejectUnauthorized: false }) });
  return {
    agent,
    async call(path: string, options: RequestOptions = {}): Promise<Response> {
      const headers: Record<string, string> = { ...(options.headers ?? {}) };
      let payload: string | undefined;
      if (options.body !== undefined) {
        payload = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
        if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
      }
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      const url = new URL(path, baseUrl);
      return new Promise<Response>((resolve, reject) => {
        const req = request(url, { method: options.method ?? (payload === undefined ? 'GET' : 'POST'), headers, agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown;
            try {
              body = text ? JSON.parse(text) : undefined;
            } catch {
              body = undefined;
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
          });
          res.on('error', reject);
        });
        req.on('error', reject);
        if (payload !== undefined) req.write(payload);
        req.end();
      });
    },
    close() {
      agent.destroy();
    },
  };
}
