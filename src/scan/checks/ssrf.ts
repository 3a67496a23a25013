// API7:2023 Server side request forgery. Every URL-typed field (format uri/url, or named …url,
// …uri, webhook, callback…) of a request body or query string is given a URL of the scan's own
// listener on 127.0.0.1 with a one-off id. A request arriving there proves the target fetched a
// URL a caller chose, on the internal network at that. Only a target on this machine can reach
// the listener, so the check runs for loopback targets only.
import { is2xx, type Check, type CheckContext } from '../context.js';
import { isObject, type Operation, type Schema } from '../openapi.js';
import { mayCall } from '../principals.js';
import { propertiesOf, typesOf } from '../schema.js';
import { rememberCreated } from '../seed.js';
import { isLoopbackHost } from './common.js';

const URL_NAME = /(url|uri|href|link|webhook|callback|endpoint|image|avatar|icon|feed|redirect)s?$/i;

function isUrlField(name: string, schema: Schema): boolean {
  const item = typesOf(schema).includes('array') && isObject(schema.items) ? schema.items : schema;
  if (!typesOf(item).includes('string') && typesOf(item).length > 0) return false;
  return item.format === 'uri' || item.format === 'url' || item.format === 'iri' || URL_NAME.test(name);
}

interface Probe {
  op: Operation;
  field: string;
  id: string;
  status: number;
  url: string;
}

async function probeBodies(ctx: CheckContext, probes: Probe[], tested: Set<Operation>): Promise<void> {
  const a = ctx.principals.a;
  if (!a) return;
  const listener = await ctx.callback();
  for (const op of ctx.doc.operations.filter((o) => o.body && o.method !== 'GET' && o.method !== 'DELETE' && mayCall(a, o) !== false)) {
    for (const [name, schema] of Object.entries(propertiesOf(op.body ?? {}))) {
      if (!isUrlField(name, schema)) continue;
      const base = ctx.sampleBody(op);
      if (!isObject(base)) continue;
      tested.add(op);
      const probe = listener.probe();
      const value = typesOf(schema).includes('array') ? [probe.url] : probe.url;
      const { res, url } = await ctx.call(op, a, { body: { ...base, [name]: value } });
      await rememberCreated(ctx, 'a', op, res);
      probes.push({ op, field: name, id: probe.id, status: res.status, url });
    }
  }
}

async function probeQueries(ctx: CheckContext, probes: Probe[], tested: Set<Operation>): Promise<void> {
  const a = ctx.principals.a;
  if (!a) return;
  const listener = await ctx.callback();
  for (const op of ctx.doc.operations.filter((o) => mayCall(a, o) !== false)) {
    for (const p of op.params.filter((x) => x.in === 'query' && isUrlField(x.name, x.schema))) {
      tested.add(op);
      const probe = listener.probe();
      const { res, url } = await ctx.call(op, a, { query: { [p.name]: probe.url } });
      probes.push({ op, field: p.name, id: probe.id, status: res.status, url });
    }
  }
}

export const ssrf: Check = {
  id: 'ssrf',
  title: 'Server side request forgery',
  owasp: 'API7:2023',
  severity: 'high',
  remediation:
    'Fetch only URLs a policy allows: https only, resolve the host and refuse loopback, private, link-local and metadata addresses, connect to the address that was checked, follow no redirects, and prefer an allowlist of destinations.',
  async run(ctx) {
    if (!isLoopbackHost(new URL(ctx.http.origin).hostname)) {
      return { tested: 0, note: "not run: the scan's callback listener is on 127.0.0.1, which only a target on this machine can reach" };
    }
    await ctx.objects();
    const probes: Probe[] = [];
    const tested = new Set<Operation>();
    await probeBodies(ctx, probes, tested);
    await probeQueries(ctx, probes, tested);
    if (probes.length === 0) return 0;
    const listener = await ctx.callback();
    // The target may fetch after answering (a queue, a webhook worker): give it a moment.
    const deadline = Date.now() + ctx.settings.callbackWaitMs;
    for (const p of probes) {
      if (!(await listener.waitFor(p.id, Math.max(0, deadline - Date.now())))) continue;
      ctx.report({
        method: p.op.method,
        path: p.op.path,
        evidence: `${p.op.method} ${p.url} with ${p.field} = a URL of the scan's own listener on 127.0.0.1 → ${p.status}${is2xx(p.status) ? '' : ' (refused, yet)'}; the target then requested that URL`,
      });
    }
    return tested.size;
  },
};
