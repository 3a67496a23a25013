// API8:2023 Security misconfiguration, error answers. Errors are provoked on purpose (malformed
// JSON bodies, ill-typed query values, odd path ids) and, with every other answer the scan got,
// searched for what must never leave a server: stack traces, SQL errors, raw library messages,
// file system paths. A provoked leak is provoked twice before it is reported.
import { randomBytes } from 'node:crypto';
import type { Check, CheckContext, Observed } from '../context.js';
import type { ScanResponse } from '../http.js';
import { mayCall } from '../principals.js';
import { typesOf } from '../schema.js';
import { excerpt, observedAnswers } from './common.js';

const LEAKS: ReadonlyArray<[RegExp, string]> = [
  [/\bat (?:[\w$.<>[\] ]+ )?\(?(?:\/|[A-Z]:\\|node:|file:)[^\s)]+:\d+:\d+\)?/, 'a JavaScript stack trace'],
  [/Traceback \(most recent call last\)/, 'a Python traceback'],
  [/\bat [a-z]+(?:\.[a-zA-Z0-9_$]+)+\([A-Za-z0-9_]+\.java:\d+\)/, 'a Java stack trace'],
  [
    /SQLITE_[A-Z]+|syntax error at or near|ORA-\d{5}|You have an error in your SQL syntax|SQLSTATE\[|PG::[A-Z]|relation "[^"]+" does not exist|unterminated quoted string/,
    'a database error',
  ],
  // V8's own JSON.parse messages (the sentence an API writes itself, "not valid JSON", is fine).
  [
    /in JSON at position \d+|Unexpected end of JSON input|Unexpected (?:token|non-whitespace character)\b[^\n]{0,60}(?:in JSON|", "?[^"]*"? is not valid JSON)|Bad control character in string literal/,
    'a JSON parser message',
  ],
  [
    /\b(?:TypeError|ReferenceError|SyntaxError|RangeError): |Cannot read propert(?:y|ies) of (?:undefined|null)/,
    'a JavaScript exception message',
  ],
  [/\bFST_ERR_[A-Z_]+|\bERR_[A-Z_]{6,}\b|ECONNREFUSED|ENOENT: no such file/, 'an internal error code'],
  [/(?:\/home\/|\/usr\/src\/|\/var\/www\/|\/srv\/|\/opt\/|node_modules\/|[A-Z]:\\Users\\)[\w./\\-]+/, 'a file system path'],
];

function leakIn(res: ScanResponse): { what: string; quote: string } | undefined {
  if (res.status < 400 || res.text === '') return undefined;
  for (const [re, what] of LEAKS) if (re.test(res.text)) return { what, quote: excerpt(res.text, re) };
  return undefined;
}

interface Provocation {
  op: Observed['op'];
  what: string;
  send(): Promise<{ res: ScanResponse; url: string }>;
}

function provocations(ctx: CheckContext): Provocation[] {
  const a = ctx.principals.a;
  const out: Provocation[] = [];
  const callable = ctx.doc.operations.filter((o) => !a || mayCall(a, o) !== false);
  for (const op of callable.filter((o) => o.body && o.method !== 'GET' && o.method !== 'DELETE').slice(0, 8)) {
    out.push({
      op,
      what: 'a malformed JSON body',
      send: () => ctx.call(op, a, { raw: { body: `{"${ctx.marker}": [1, 2`, contentType: 'application/json' }, record: false }),
    });
  }
  for (const op of callable.filter((o) => o.method === 'GET').slice(0, 12)) {
    const numeric = op.params.find((p) => p.in === 'query' && typesOf(p.schema).some((t) => t === 'integer' || t === 'number'));
    if (numeric) {
      out.push({
        op,
        what: `${numeric.name}=a value of the wrong type`,
        send: () => ctx.call(op, a, { query: { [numeric.name]: `1'"${ctx.marker}` }, record: false }),
      });
    }
    const id = op.params.find((p) => p.in === 'path');
    if (id) {
      const odd = `'"${ctx.marker}${randomBytes(2).toString('hex')}%00`;
      out.push({ op, what: 'an id with quotes in it', send: () => ctx.call(op, a, { path: { [id.name]: odd }, record: false }) });
    }
  }
  return out;
}

export const errorLeaks: Check = {
  id: 'error-leaks',
  title: 'Stack traces and internal messages in errors',
  owasp: 'API8:2023',
  severity: 'medium',
  remediation:
    'Answer errors with a fixed shape (RFC 9457 problem+json) whose text you wrote: a stable code and a human sentence; log the exception with a request id instead of returning it.',
  async run(ctx) {
    const tested = new Set<Observed['op']>();
    for (const p of provocations(ctx)) {
      tested.add(p.op);
      const first = await p.send();
      const leak = leakIn(first.res);
      if (!leak || !leakIn((await p.send()).res)) continue;
      ctx.report({
        method: p.op.method,
        path: p.op.path,
        evidence: `${p.op.method} ${first.url} with ${p.what} → ${first.res.status} showing ${leak.what}: ${leak.quote}`,
      });
    }
    for (const o of await observedAnswers(ctx)) {
      tested.add(o.op);
      const leak = leakIn(o.res);
      if (leak)
        ctx.report({
          method: o.op.method,
          path: o.op.path,
          evidence: `${o.op.method} ${o.url} → ${o.res.status} showing ${leak.what}: ${leak.quote}`,
        });
    }
    return tested.size;
  },
};
