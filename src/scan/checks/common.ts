// Small helpers several checks share: the answers a principal got, a documented read that works
// for a principal (the baseline a refused probe is compared with), and the loopback test.
import { is2xx, type CheckContext, type Observed } from '../context.js';
import { isSecured, type Operation } from '../openapi.js';
import { mayCall, type Principal } from '../principals.js';
import { isCreate } from '../seed.js';

/**
 * The creations principal A may call, once the object pool is seeded: what the body checks vary.
 * Undefined without principal A (nothing to create with).
 */
export async function creationsByA(ctx: CheckContext): Promise<{ a: Principal; operations: Operation[] } | undefined> {
  const a = ctx.principals.a;
  if (!a) return undefined;
  await ctx.objects();
  return { a, operations: ctx.doc.operations.filter((o) => isCreate(o) && mayCall(a, o) !== false) };
}

/** A secured GET the principal was answered 2xx for (seeding the objects first if need be). */
export async function workingRead(ctx: CheckContext, who: Principal): Promise<Observed | undefined> {
  const find = () =>
    ctx.observed.find(
      (o) =>
        o.who === who.name &&
        o.op.method === 'GET' &&
        isSecured(o.op) &&
        is2xx(o.res.status) &&
        !o.res.contentType.startsWith('text/event-stream'),
    );
  const seen = find();
  if (seen) return seen;
  await ctx.objects();
  return find();
}

/** Answers to documented operations, seeding the objects first when nothing was observed yet. */
export async function observedAnswers(ctx: CheckContext): Promise<Observed[]> {
  if (ctx.observed.length === 0) await ctx.objects();
  return ctx.observed;
}

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** `text` cut around the first match of `re`, for evidence (the scrubber still runs after). */
export function excerpt(text: string, re: RegExp, width = 60): string {
  const m = re.exec(text);
  if (!m) return '';
  const start = Math.max(0, m.index - width / 2);
  return JSON.stringify(text.slice(start, m.index + m[0].length + width / 2).replace(/\s+/g, ' '));
}
