// API8:2023 injection: SQL (error, boolean and time based), NoSQL operators, script reflected in
// HTML. Each against a small customers-and-notes API on 127.0.0.1 with the flaw, and its twin
// without it. The SQL is real: an in-memory SQLite database (better-sqlite3), its query
// concatenated in the flawed fixture and parameterized in the twin; the time based flaw is a
// SQLite `pg_sleep` function that makes the answer wait, the way a vulnerable PostgreSQL would.
// The tests assert findings, never times: the timing is the scanner's own differential logic.
import BetterSqlite3 from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { FixtureApi } from './fixture/server.js';
import { authenticate, fixtureKeys, issue } from './fixture/tokens.js';
import { scan, summary } from './helpers.js';

type InjectionFlaw = 'sqli-error' | 'sqli-boolean' | 'sqli-time' | 'nosql-query' | 'nosql-body' | 'reflected' | 'tarpit';

const CHECKS = ['sql-injection', 'nosql-injection', 'reflected-script'];
const api8 = (check: string, severity: string, method: string, path: string) => ({ check, owasp: 'API8:2023', severity, method, path });

const newId = (prefix: string) =>
  `${prefix}_${Array.from(randomBytes(12), (b) => '0123456789abcdefghijklmnopqrstuvwxyz'[b % 36]).join('')}`;
const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

function injectionDocument(): Record<string, unknown> {
  const json = (schema: object) => ({ description: 'ok', content: { 'application/json': { schema } } });
  const customer = {
    type: 'object',
    required: ['id', 'full_name', 'email'],
    properties: { id: { type: 'string' }, full_name: { type: ['string', 'number'] }, email: { type: 'string' } },
  };
  const note = { type: 'object', properties: { id: { type: 'string' }, title: { type: 'string' }, tag: { type: 'string' } } };
  const list = (items: object) => ({ type: 'object', required: ['data'], properties: { data: { type: 'array', items } } });
  const read = [{ bearer: ['notes:read'] }];
  const write = [{ bearer: ['notes:write'] }];
  const body = (properties: object, required: string[]) => ({
    content: { 'application/json': { schema: { type: 'object', additionalProperties: false, required, properties } } },
  });
  return {
    openapi: '3.1.0',
    info: { title: 'injection fixture', version: '1' },
    servers: [{ url: '/' }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths: {
      '/v1/customers': {
        post: {
          security: write,
          requestBody: body({ full_name: { type: 'string', maxLength: 200 }, email: { type: 'string', format: 'email' } }, [
            'full_name',
            'email',
          ]),
          responses: { '201': json(customer) },
        },
        get: {
          security: read,
          parameters: [{ in: 'query', name: 'email', schema: { type: 'string' } }],
          responses: { '200': json(list(customer)) },
        },
      },
      '/v1/customers/{id}': {
        get: {
          security: read,
          parameters: [{ in: 'path', name: 'id', required: true, schema: { type: 'string', pattern: '^cus_[0-9a-z]{12}$' } }],
          responses: { '200': json(customer) },
        },
      },
      '/v1/notes': {
        get: {
          security: read,
          parameters: [{ in: 'query', name: 'tag', schema: { type: 'string' } }],
          responses: { '200': json(list(note)) },
        },
      },
      '/v1/notes/search': {
        post: { security: read, requestBody: body({ title: { type: 'string' } }, ['title']), responses: { '200': json(list(note)) } },
      },
      '/v1/pages/search': {
        get: {
          security: read,
          parameters: [{ in: 'query', name: 'q', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: 'HTML', content: { 'text/html': {} } } },
        },
      },
      '/v1/echo': {
        get: {
          security: read,
          parameters: [{ in: 'query', name: 'q', schema: { type: 'string' } }],
          responses: { '200': json({ type: 'object', properties: { q: { type: 'string' } } }) },
        },
      },
    },
  };
}

class Refused extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.error));
  }
}

/** `a[b]=c` nested the way qs-style parsers nest it (the NoSQL flaw's query parser). */
function bracketQuery(params: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of params) {
    const [, name, op] = /^([^[]+)\[([^\]]*)\]$/.exec(key) ?? [];
    if (name === undefined || op === undefined) out[key] = value;
    else {
      const prev = out[name];
      out[name] = { ...(typeof prev === 'object' && prev !== null ? prev : {}), [op]: value };
    }
  }
  return out;
}

/** A MongoDB-style match of one field: equality, or the operators $ne, $gt, $eq; any other key matches nothing. */
function matches(value: string, condition: unknown): boolean {
  if (typeof condition !== 'object' || condition === null) return value === condition;
  return Object.entries(condition).every(([op, arg]) =>
    op === '$ne' ? value !== arg : op === '$gt' ? typeof arg === 'string' && value > arg : op === '$eq' ? value === arg : false,
  );
}

async function startInjectionApi(flawList: InjectionFlaw[] = []): Promise<FixtureApi> {
  const flaws = new Set(flawList);
  const keys = await fixtureKeys();
  const document = injectionDocument();
  const db = new BetterSqlite3(':memory:');
  db.exec('CREATE TABLE customers (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, full_name TEXT, email TEXT NOT NULL)');
  // The time based flaw: the database "sleeps" (the answer waits) when a query calls pg_sleep.
  let sleepFor = 0;
  if (flaws.has('sqli-time')) {
    db.function('pg_sleep', { deterministic: false }, (seconds: unknown) => {
      sleepFor = Math.max(sleepFor, Number(seconds));
      return '';
    });
  }
  const seed = db.prepare('INSERT INTO customers (id, tenant, full_name, email) VALUES (?, ?, ?, ?)');
  for (const tenant of ['ta', 'tb']) for (let i = 0; i < 3; i += 1) seed.run(newId('cus'), tenant, `seed ${i}`, `seed${i}@example.com`);
  const notes = ['ta', 'ta', 'ta', 'tb'].map((tenant, i) => ({ id: newId('note'), tenant, title: `note ${i}`, tag: `tag${i % 2}` }));
  const out = (n: (typeof notes)[number]) => ({ id: n.id, title: n.title, tag: n.tag });
  let answered = 0;
  let origin = '';

  /** Runs SQL; a database error is answered as the fixture's flaws say. */
  function query<T>(run: () => T, leak: boolean): T {
    try {
      return run();
    } catch (err) {
      const e = err as { code?: string; message?: string };
      // The error based flaw: the driver's own message goes back to the caller.
      if (leak) throw new Refused(500, { error: 'internal', detail: `${e.code ?? 'error'}: ${e.message ?? ''}` });
      throw new Refused(400, { error: 'bad_request' });
    }
  }

  async function api(req: IncomingMessage, url: URL, body: unknown): Promise<{ status: number; json?: unknown; html?: string }> {
    const method = req.method ?? 'GET';
    const caller = await authenticate(keys, new Set(), {
      authorization: req.headers.authorization,
      dpop: undefined,
      method,
      url: `${origin}${url.pathname}`,
      queryToken: undefined,
    });
    if (!caller) throw new Refused(401, { error: 'invalid_token' });
    const need = (scope: string) => {
      if (!caller.scopes.has(scope)) throw new Refused(403, { error: 'insufficient_scope' });
    };
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const path = url.pathname;
    const item = /^\/v1\/customers\/([^/]+)$/.exec(path);

    if (path === '/v1/customers' && method === 'POST') {
      need('notes:write');
      if (typeof b.full_name !== 'string' || typeof b.email !== 'string') throw new Refused(400, { error: 'validation_failed' });
      const id = newId('cus');
      sleepFor = 0;
      query(() => {
        if (flaws.has('sqli-time'))
          db.prepare(`INSERT INTO customers (id, tenant, full_name, email) VALUES (?, ?, '${b.full_name as string}', ?)`).run(
            id,
            caller.tenant,
            b.email,
          );
        else seed.run(id, caller.tenant, b.full_name, b.email);
      }, false);
      if (sleepFor > 0) await sleep(sleepFor * 1000);
      return { status: 201, json: db.prepare('SELECT id, full_name, email FROM customers WHERE id = ?').get(id) };
    }
    if (path === '/v1/customers' && method === 'GET') {
      need('notes:read');
      const email = url.searchParams.get('email');
      // A filter in front of the database that makes anything mentioning "sleep" wait: slow, not injectable.
      if (flaws.has('tarpit') && /sleep/i.test(url.search)) await sleep(2000);
      const rows = query(() => {
        if (email === null) return db.prepare('SELECT id, full_name, email FROM customers WHERE tenant = ?').all(caller.tenant);
        if (flaws.has('sqli-boolean'))
          return db.prepare(`SELECT id, full_name, email FROM customers WHERE tenant = ? AND email = '${email}'`).all(caller.tenant);
        return db.prepare('SELECT id, full_name, email FROM customers WHERE tenant = ? AND email = ?').all(caller.tenant, email);
      }, false);
      return { status: 200, json: { data: rows } };
    }
    if (item && method === 'GET') {
      need('notes:read');
      const id = decodeURIComponent(item[1] as string);
      const row = query(
        () =>
          flaws.has('sqli-error')
            ? db.prepare(`SELECT id, full_name, email FROM customers WHERE tenant = ? AND id = '${id}'`).get(caller.tenant)
            : db.prepare('SELECT id, full_name, email FROM customers WHERE tenant = ? AND id = ?').get(caller.tenant, id),
        flaws.has('sqli-error'),
      );
      if (!row) throw new Refused(404, { error: 'not_found' });
      return { status: 200, json: row };
    }
    if (path === '/v1/notes' && method === 'GET') {
      need('notes:read');
      // The twin reads `tag` as a string and ignores what it does not know (`tag[$ne]` included).
      const tag = flaws.has('nosql-query') ? bracketQuery(url.searchParams).tag : url.searchParams.get('tag');
      const mine = notes.filter((n) => n.tenant === caller.tenant);
      return { status: 200, json: { data: (tag === undefined || tag === null ? mine : mine.filter((n) => matches(n.tag, tag))).map(out) } };
    }
    if (path === '/v1/notes/search' && method === 'POST') {
      need('notes:read');
      if (!flaws.has('nosql-body') && typeof b.title !== 'string') throw new Refused(400, { error: 'validation_failed' });
      return { status: 200, json: { data: notes.filter((n) => n.tenant === caller.tenant && matches(n.title, b.title)).map(out) } };
    }
    if (path === '/v1/pages/search' && method === 'GET') {
      need('notes:read');
      const q = url.searchParams.get('q') ?? '';
      const shown = flaws.has('reflected') ? q : escapeHtml(q);
      return { status: 200, html: `<!doctype html><title>search</title><p>No results for ${shown}</p>` };
    }
    if (path === '/v1/echo' && method === 'GET') {
      need('notes:read');
      // Raw, in JSON: not HTML, so never rendered by a browser.
      return { status: 200, json: { q: url.searchParams.get('q') ?? '' } };
    }
    throw new Refused(404, { error: 'not_found' });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    answered += 1;
    const url = new URL(req.url ?? '/', origin);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let answer: { status: number; json?: unknown; html?: string };
    try {
      let body: unknown;
      if (chunks.length > 0) {
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
        } catch {
          throw new Refused(400, { error: 'invalid_json' });
        }
      }
      answer = url.pathname === '/openapi.json' ? { status: 200, json: document } : await api(req, url, body);
    } catch (err) {
      if (!(err instanceof Refused)) throw err;
      answer = { status: err.status, json: err.body };
    }
    const type = answer.html !== undefined ? 'text/html; charset=utf-8' : 'application/json';
    res.writeHead(answer.status, { 'content-type': type, 'x-content-type-options': 'nosniff' });
    res.end(answer.html ?? (answer.json !== undefined ? JSON.stringify(answer.json) : ''));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url: origin,
    document,
    keys,
    token: (claims) => issue(keys, claims),
    requests: () => answered,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          db.close();
          resolve();
        });
      }),
  };
}

async function injectionFindings(flaws: InjectionFlaw[], checks = CHECKS) {
  const api = await startInjectionApi(flaws);
  try {
    return (await scan(api, checks)).findings;
  } finally {
    await api.close();
  }
}

describe('injection', () => {
  it('sql-injection, error based: a quote in a path id answers the SQLite error, the doubled quote does not', async () => {
    const findings = await injectionFindings(['sqli-error'], ['sql-injection']);
    expect(findings.map(summary)).toEqual([api8('sql-injection', 'high', 'GET', '/v1/customers/{id}')]);
    expect(findings[0]?.evidence).toMatch(
      /^error based: GET \/v1\/customers\/cus_[0-9a-z]{12}' with the path parameter id = "cus_[0-9a-z]{12}'" → 500 showing a SQLite error: .*SQLITE_ERROR: unrecognized token/,
    );
  });

  it("sql-injection, boolean based: email' AND '1'='1 lists A's customers, '1'='2 none (errors not shown)", async () => {
    const findings = await injectionFindings(['sqli-boolean'], ['sql-injection']);
    expect(findings.map(summary)).toEqual([api8('sql-injection', 'high', 'GET', '/v1/customers')]);
    expect(findings[0]?.evidence).toMatch(
      /^boolean based: GET \/v1\/customers\?email=.* with the query parameter email = "vgscan[0-9a-f]{8}@example\.com' AND '1'='1" → 200 with 2 items, as the plain value \(200 with 2 items\); with ".*' AND '1'='2" → 200 with 0 items; the same again$/,
    );
  });

  it('sql-injection, time based: a body property concatenated into an INSERT that calls pg_sleep', async () => {
    const findings = await injectionFindings(['sqli-time'], ['sql-injection']);
    expect(findings.map(summary)).toEqual([api8('sql-injection', 'high', 'POST', '/v1/customers')]);
    expect(findings[0]?.evidence).toMatch(
      /^time based \(PostgreSQL\): POST \/v1\/customers with the body property full_name = "vgscan[0-9a-f]{8}-full_name'\|\|\(SELECT pg_sleep\(2\)\)\|\|'" → 201 after /,
    );
  });

  it('sql-injection: a target that is slow on anything mentioning "sleep" (zero sleeps too) is not reported', async () => {
    expect(await injectionFindings(['tarpit'], ['sql-injection'])).toEqual([]);
  });

  it('nosql-injection: tag[$ne] in a qs-parsed query, {"$ne": null} in a JSON body', async () => {
    const findings = await injectionFindings(['nosql-query', 'nosql-body'], ['nosql-injection']);
    expect(findings.map(summary)).toEqual([
      api8('nosql-injection', 'high', 'GET', '/v1/notes'),
      api8('nosql-injection', 'high', 'POST', '/v1/notes/search'),
    ]);
    expect(findings[0]?.evidence).toMatch(
      /^GET \/v1\/notes\?tag%5B%24ne%5D=vgscan\w+ with the query parameter tag as tag\[\$ne\]=vgscan\w+ → 200 with 3 items, where the value "vgscan\w+" gave 200 with 0 items; tag\[\$gt\]= → 200 with 3 items, another random value 200 with 0 items; a key that is no operator → 200 with 0 items$/,
    );
    expect(findings[1]?.evidence).toMatch(/^POST \/v1\/notes\/search with the body property title as \{"\$ne":null\} → 200 with 3 items/);
  });

  it('reflected-script: the search page shows the markup unescaped; the JSON echo of the same is not reported', async () => {
    const findings = await injectionFindings(['reflected'], ['reflected-script']);
    expect(findings.map(summary)).toEqual([api8('reflected-script', 'medium', 'GET', '/v1/pages/search')]);
    expect(findings[0]?.evidence).toMatch(
      /^GET \/v1\/pages\/search\?q=\S+ with the query parameter q = "'\\"><script>vgscan\w+<\/script><svg onload=vgscan\w+>" → 200 text\/html; charset=utf-8 showing <script>vgscan\w+<\/script> unescaped: .*; again with a second marker$/,
    );
  });

  it('every flaw at once: each check finds its own, and no token is in the evidence', async () => {
    const api = await startInjectionApi(['sqli-error', 'sqli-boolean', 'sqli-time', 'nosql-query', 'nosql-body', 'reflected']);
    try {
      const report = await scan(api, CHECKS);
      expect(report.findings.map(summary)).toEqual([
        api8('nosql-injection', 'high', 'GET', '/v1/notes'),
        api8('nosql-injection', 'high', 'POST', '/v1/notes/search'),
        api8('sql-injection', 'high', 'GET', '/v1/customers'),
        api8('sql-injection', 'high', 'POST', '/v1/customers'),
        api8('sql-injection', 'high', 'GET', '/v1/customers/{id}'),
        api8('reflected-script', 'medium', 'GET', '/v1/pages/search'),
      ]);
      expect(JSON.stringify(report.findings)).not.toMatch(/eyJ|Bearer \w/);
      expect(report.requests_sent).toBe(api.requests());
    } finally {
      await api.close();
    }
  });

  it('the twin: parameterized SQL, strings only, escaped HTML: nothing found, every check tested something', async () => {
    const api = await startInjectionApi([]);
    try {
      const report = await scan(api, CHECKS);
      expect(report.findings).toEqual([]);
      expect(report.checks.map((c) => [c.id, c.operations_tested > 0, c.note])).toEqual(CHECKS.map((id) => [id, true, undefined]));
    } finally {
      await api.close();
    }
  });

  it('within a small budget: the checks stop where it ends, and say so', async () => {
    const api = await startInjectionApi(['sqli-boolean']);
    try {
      const report = await scan(api, CHECKS, {}, 30);
      expect(report.requests_sent).toBeLessThanOrEqual(30);
      expect(api.requests()).toBeLessThanOrEqual(30);
      expect(report.checks.at(-1)?.note).toBe('not run: the request budget (--max-requests 30) was spent');
    } finally {
      await api.close();
    }
  });
});
