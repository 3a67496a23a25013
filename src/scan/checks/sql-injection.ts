// API8:2023 Security misconfiguration, SQL injection. The 2023 Top 10 has no injection category
// of its own (API8:2019 Injection was dropped); this scanner files input that reaches an
// interpreter under API8:2023, as error-leaks already does for SQL error text (API10:2023 covers
// injection only through data taken from third-party APIs, which is not what these probes send).
//
// The string inputs principal A may send (path and query values of reads, top-level body
// properties of writes; never a DELETE, never an operation that signs out, revokes or resets) are
// given payloads in three ways, each confirmed by a differential request before it is reported:
//   - error based: the value with a quote appended answers a database error text, the value with
//     the quote doubled (balanced, so valid SQL) does not, and the single quote does again;
//   - boolean based, where the input filters what is read (a read, a search or sign-in POST; a
//     creation or an update answers its object whatever the condition): `v' AND '1'='1` answers
//     like the plain value (a 2xx), `v' AND '1'='2` does not, and the three answers are the same
//     the second time (AND only: an OR payload could widen an UPDATE or DELETE to every row);
//   - time based: a sleep of SLEEP_SECONDS answers that much later than the plain value, a sleep
//     of zero does not, and the sleep does again against a fresh baseline. The payloads stay
//     balanced (`v'||(SELECT pg_sleep(2))||'`) rather than ending in a comment: a trailing `--`
//     would cut off what follows (a tenant filter, the next placeholder) and fail the statement.
//     The subqueries are uncorrelated, so the database sleeps once, not once per row. SQLite has
//     no sleep and a heavy expression would load the target's CPU: SQLite is found by its errors
//     and by the boolean probes only; SQL Server's WAITFOR needs stacked queries, not sent.
// Inputs whose schema admits free text come first, then ids, then cursors, enums and dates, within
// MAX_INPUTS in MAX_OPERATIONS. The input selection is shared with the NoSQL and script checks.
import { performance } from 'node:perf_hooks';
import { is2xx, type CallOptions, type Check, type CheckContext } from '../context.js';
import type { ScanResponse } from '../http.js';
import { isIdName } from '../objects.js';
import { isObject, isSecured, label, type Operation, type Schema } from '../openapi.js';
import { mayCall, type Principal } from '../principals.js';
import { fields, merged, propertiesOf, sample, typesOf } from '../schema.js';
import { isCreate, rememberCreated } from '../seed.js';
import { excerpt } from './common.js';

const MAX_OPERATIONS = 10;
const MAX_INPUTS = 12;
const PER_OPERATION = 2;
const SLEEP_SECONDS = 2;
/** An answer this much later than the plain value's slept (three quarters of the sleep). */
const SLEPT_MS = 1500;
/** The zero sleep must come back within this of the plain value. */
const CONTROL_MS = 1000;

// ---------------------------------------------------------------------------------------------
// The inputs the injection checks probe (exported for nosql-injection.ts and reflected-script.ts).

export interface StringInput {
  op: Operation;
  in: 'path' | 'query' | 'body';
  name: string;
  schema: Schema;
  required: boolean;
}

/** A POST that looks things up rather than creating them (a search, a sign-in). */
const LOOKUP = /(search|query|find|lookup|filter|match|login|sign-?in)/i;

/** Whether the input selects what is read: a read's path or query value, a lookup's body. */
export const selects = (input: StringInput): boolean =>
  input.in !== 'body' || (input.op.method === 'POST' && (!isCreate(input.op) || LOOKUP.test(input.op.path)));

/** Operations that sign out, revoke, reset or destroy are never probed. */
const DESTRUCTIVE = /(token|revoke|reset|rotate|disable|delete|erase|password|logout|sign-?out)/i;
const CURSOR = /^(starting_after|ending_before|cursor|page_token|next|after|before)$/i;
const FIXED_FORMATS = new Set(['date', 'date-time', 'time', 'duration', 'uuid', 'ipv4', 'ipv6', 'byte', 'binary']);

export function isStringSchema(schema: Schema): boolean {
  const s = merged(schema);
  if (s.const !== undefined || s.format === 'binary') return false;
  const types = typesOf(s);
  if (types.length === 0) return !isObject(s.properties) && s.items === undefined;
  return types.includes('string');
}

/** 0: free text, 1: an id or patterned value, 2: a cursor, 3: an enum, a date, a uuid. */
function rank(input: StringInput): number {
  const s = merged(input.schema);
  if (Array.isArray(s.enum) || FIXED_FORMATS.has(String(s.format))) return 3;
  if (CURSOR.test(input.name)) return 2;
  if (isIdName(input.name) || typeof s.pattern === 'string' || s.format !== undefined) return 1;
  return 0;
}

/** The string inputs of one operation: path and query values of a read, body properties of a write. */
export function stringInputs(op: Operation, where: ReadonlyArray<StringInput['in']>): StringInput[] {
  const out: StringInput[] = [];
  if (op.method === 'GET') {
    for (const p of op.params) {
      if ((p.in === 'path' || p.in === 'query') && where.includes(p.in) && isStringSchema(p.schema)) {
        out.push({ op, in: p.in, name: p.name, schema: p.schema, required: p.required });
      }
    }
  } else if ((op.method === 'POST' || op.method === 'PUT' || op.method === 'PATCH') && op.body && where.includes('body')) {
    const required = new Set(Array.isArray(merged(op.body).required) ? (merged(op.body).required as unknown[]) : []);
    for (const [name, schema] of Object.entries(propertiesOf(op.body))) {
      if (schema.readOnly === true || !isStringSchema(schema)) continue;
      out.push({ op, in: 'body', name, schema, required: required.has(name) });
    }
  }
  return out;
}

/** Operations answered as an event stream never end: their inputs are not probed. */
function streams(ctx: CheckContext): Set<Operation> {
  return new Set(ctx.observed.filter((o) => o.res.contentType.startsWith('text/event-stream')).map((o) => o.op));
}

/** The operations a probe may call as this principal (all public ones without a principal). */
export function probeableOperations(ctx: CheckContext, who: Principal | undefined): Operation[] {
  const skip = streams(ctx);
  return ctx.doc.operations.filter(
    (o) => o.method !== 'DELETE' && !DESTRUCTIVE.test(o.path) && !skip.has(o) && (who ? mayCall(who, o) !== false : !isSecured(o)),
  );
}

/** The inputs to probe, most promising first, within the caps. */
export function injectionInputs(
  ctx: CheckContext,
  who: Principal | undefined,
  options: {
    where: ReadonlyArray<StringInput['in']>;
    operations: number;
    inputs: number;
    perOperation: number;
    accept?: (input: StringInput) => boolean;
  },
): StringInput[] {
  const byRank = (x: StringInput, y: StringInput) => rank(x) - rank(y);
  const candidates = probeableOperations(ctx, who)
    .flatMap((op) =>
      stringInputs(op, options.where)
        .filter((i) => options.accept?.(i) ?? true)
        .sort(byRank)
        .slice(0, options.perOperation),
    )
    .sort(byRank);
  const ops = new Set<Operation>();
  const out: StringInput[] = [];
  for (const input of candidates) {
    if (out.length >= options.inputs) break;
    if (!ops.has(input.op) && ops.size >= options.operations) continue;
    ops.add(input.op);
    out.push(input);
  }
  return out;
}

/** A value of this name principal A was shown (a filter that matches A's own objects). */
export function knownValue(ctx: CheckContext, name: string): string | undefined {
  for (const o of ctx.observed) {
    if (o.who !== 'a' || !is2xx(o.res.status)) continue;
    for (const [, key, v] of fields(o.res.json)) if (key === name && typeof v === 'string' && v !== '') return v;
  }
  return undefined;
}

export const where = (input: StringInput): string =>
  input.in === 'body' ? `the body property ${input.name}` : `the ${input.in} parameter ${input.name}`;

export interface Sent {
  res: ScanResponse;
  url: string;
  ms: number;
}

export interface Probe {
  input: StringInput;
  /** The plain value: an id of A's, a value A was shown, or one sampled from the schema. */
  value: string;
  /** The answer to the plain value (sent once per operation and value). */
  baseline(): Promise<Sent>;
  /** The same request with the input set to `value` (timed; nothing recorded for the judges). */
  send(value: string | Record<string, unknown>, nameSuffix?: string): Promise<Sent>;
}

const asText = (v: string | Record<string, unknown>): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** How to send one input with any value; undefined when the operation's body cannot be built. */
export async function probeFor(
  ctx: CheckContext,
  who: Principal | undefined,
  input: StringInput,
  baselines: Map<string, Promise<Sent>>,
): Promise<Probe | undefined> {
  const pool = await ctx.objects();
  const { op, name } = input;
  const sampled = (random: boolean) => String(sample(input.schema, { marker: ctx.marker, random }, name));
  let value: string;
  let options: (v: string | Record<string, unknown>, suffix: string) => CallOptions;
  if (input.in === 'path') {
    value = pool.pathValue('a', op, name) ?? sampled(true);
    options = (v) => ({ path: { [name]: asText(v) } });
  } else if (input.in === 'query') {
    value = pool.idFor('a', name, input.schema) ?? knownValue(ctx, name) ?? sampled(false);
    options = (v, suffix) => ({ query: { [`${name}${suffix}`]: asText(v) } });
  } else {
    const body = ctx.sampleBody(op);
    if (!isObject(body)) return undefined;
    value = typeof body[name] === 'string' ? body[name] : (knownValue(ctx, name) ?? sampled(false));
    options = (v) => ({ body: { ...body, [name]: v } });
  }
  const send = async (v: string | Record<string, unknown>, suffix = ''): Promise<Sent> => {
    const started = performance.now();
    const { res, url } = await ctx.call(op, who, { ...options(v, suffix), record: false });
    const ms = performance.now() - started;
    if (input.in === 'body' && who?.name === 'a') await rememberCreated(ctx, 'a', op, res);
    return { res, url, ms };
  };
  const key = `${label(op)} ${input.in === 'body' ? JSON.stringify(options(value, '').body) : `${input.in}:${name}=${value}`}`;
  return {
    input,
    value,
    baseline() {
      let b = baselines.get(key);
      if (!b) {
        b = send(value);
        baselines.set(key, b);
      }
      return b;
    },
    send,
  };
}

/** How many items a list answer holds (a top-level array, or the first array of an object). */
export function itemCount(res: ScanResponse): number | undefined {
  const j = res.json;
  if (Array.isArray(j)) return j.length;
  if (isObject(j)) {
    const list = Object.values(j).find(Array.isArray);
    if (list) return list.length;
  }
  return undefined;
}

export function answerOf(res: ScanResponse): string {
  const n = itemCount(res);
  return n === undefined ? String(res.status) : `${res.status} with ${n} item${n === 1 ? '' : 's'}`;
}

// ---------------------------------------------------------------------------------------------

const DB_ERRORS: ReadonlyArray<[RegExp, string]> = [
  [
    /SQLITE_(?:ERROR|MISMATCH|RANGE)\b|SqliteError|unrecognized token: "|near "[^"]{0,40}": syntax error|sqlite3\.OperationalError/,
    'a SQLite error',
  ],
  [/syntax error at or near "|unterminated quoted string at or near|PG::SyntaxError|PSQLException|pq: syntax error/, 'a PostgreSQL error'],
  [
    /You have an error in your SQL syntax|the manual that corresponds to your (?:MySQL|MariaDB)|ER_PARSE_ERROR|MySqlException/,
    'a MySQL error',
  ],
  [/ORA-0(?:0933|0907|1756)|quoted string not properly terminated/, 'an Oracle error'],
  [/Unclosed quotation mark after the character string|Incorrect syntax near '|SQLServerException/, 'a SQL Server error'],
  [/SQLSTATE\[\w+\]|SQLSTATE 42601/, 'a database driver error'],
];

function dbError(res: ScanResponse): { what: string; quote: string } | undefined {
  if (res.text === '') return undefined;
  for (const [re, what] of DB_ERRORS) if (re.test(res.text)) return { what, quote: excerpt(res.text, re) };
  return undefined;
}

async function errorBased(p: Probe): Promise<string | undefined> {
  const { op } = p.input;
  if (dbError((await p.baseline()).res)) return undefined;
  const quoted = await p.send(`${p.value}'`);
  const leak = dbError(quoted.res);
  if (!leak) return undefined;
  const balanced = await p.send(`${p.value}''`);
  if (balanced.res.status === 0 || dbError(balanced.res)) return undefined;
  if (!dbError((await p.send(`${p.value}'`)).res)) return undefined;
  return `error based: ${op.method} ${quoted.url} with ${where(p.input)} = ${JSON.stringify(`${p.value}'`)} → ${quoted.res.status} showing ${leak.what}: ${leak.quote}; with the quote doubled → ${balanced.res.status} without it; the single quote again → the same error`;
}

/** Status and the structure of the answer (keys, types, list lengths), not its text. */
function skeleton(v: unknown, depth = 0): string {
  if (depth > 8) return '…';
  if (Array.isArray(v)) return `[${v.length}:${[...new Set(v.slice(0, 20).map((x) => skeleton(x, depth + 1)))].join('|')}]`;
  if (isObject(v))
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${k}:${skeleton(v[k], depth + 1)}`)
      .join(',')}}`;
  return v === null ? 'null' : typeof v;
}

const shape = (s: Sent, sent: string): string =>
  s.res.json !== undefined ? `${s.res.status} ${skeleton(s.res.json)}` : `${s.res.status} ${s.res.text.split(sent).join('')}`;

const TRUE = "' AND '1'='1";
const FALSE = "' AND '1'='2";

async function booleanBased(p: Probe): Promise<string | undefined> {
  const { op } = p.input;
  if (!selects(p.input)) return undefined;
  const base = await p.baseline();
  if (!is2xx(base.res.status)) return undefined;
  const [t, f] = [`${p.value}${TRUE}`, `${p.value}${FALSE}`];
  const t1 = await p.send(t);
  if (shape(t1, t) !== shape(base, p.value)) return undefined;
  const f1 = await p.send(f);
  if (f1.res.status === 0 || shape(f1, f) === shape(t1, t)) return undefined;
  // The same three answers a second time: the plain value, true, false.
  const b2 = await p.send(p.value);
  const t2 = await p.send(t);
  const f2 = await p.send(f);
  if (shape(t2, t) !== shape(b2, p.value) || shape(f2, f) !== shape(f1, f) || shape(f2, f) === shape(t2, t)) return undefined;
  return `boolean based: ${op.method} ${t1.url} with ${where(p.input)} = ${JSON.stringify(t)} → ${answerOf(t1.res)}, as the plain value (${answerOf(base.res)}); with ${JSON.stringify(f)} → ${answerOf(f1.res)}; the same again`;
}

const DIALECTS: ReadonlyArray<{ name: string; payload: (v: string, seconds: number) => string }> = [
  { name: 'PostgreSQL', payload: (v, s) => `${v}'||(SELECT pg_sleep(${s}))||'` },
  { name: 'MySQL', payload: (v, s) => `${v}' AND 1=(SELECT 1 FROM (SELECT SLEEP(${s}))x) AND '1'='1` },
];

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function timeBased(p: Probe): Promise<string | undefined> {
  const { op } = p.input;
  const b1 = await p.baseline();
  if (b1.res.status === 0) return undefined;
  for (const d of DIALECTS) {
    const sleep = d.payload(p.value, SLEEP_SECONDS);
    const s1 = await p.send(sleep);
    if (s1.res.status === 0 || s1.ms - b1.ms < SLEPT_MS) continue;
    const control = await p.send(d.payload(p.value, 0));
    if (control.res.status === 0 || control.ms - b1.ms >= CONTROL_MS) continue;
    const b2 = await p.send(p.value);
    const s2 = await p.send(sleep);
    if (b2.res.status === 0 || s2.res.status === 0 || s2.ms - b2.ms < SLEPT_MS) continue;
    return `time based (${d.name}): ${op.method} ${s1.url} with ${where(p.input)} = ${JSON.stringify(sleep)} → ${s1.res.status} after ${seconds(s1.ms)}, then after ${seconds(s2.ms)} (the plain value: ${seconds(b1.ms)}, ${seconds(b2.ms)}; a zero sleep: ${seconds(control.ms)})`;
  }
  return undefined;
}

export const sqlInjection: Check = {
  id: 'sql-injection',
  title: 'SQL injection',
  owasp: 'API8:2023',
  severity: 'high',
  remediation:
    'Pass every value to the database as a bound parameter (placeholders, never concatenation or template strings), validate inputs against their schema before any query, and answer database errors with a fixed problem+json body.',
  async run(ctx) {
    const a = ctx.principals.a;
    const inputs = injectionInputs(ctx, a, {
      where: ['path', 'query', 'body'],
      operations: MAX_OPERATIONS,
      inputs: MAX_INPUTS,
      perOperation: PER_OPERATION,
    });
    const baselines = new Map<string, Promise<Sent>>();
    const tested = new Set<Operation>();
    const found = new Set<Operation>();
    for (const input of inputs) {
      if (found.has(input.op)) continue;
      tested.add(input.op);
      const p = await probeFor(ctx, a, input, baselines);
      if (!p) continue;
      const evidence = (await errorBased(p)) ?? (await booleanBased(p)) ?? (await timeBased(p));
      if (!evidence) continue;
      found.add(input.op);
      ctx.report({ method: input.op.method, path: input.op.path, evidence });
    }
    return tested.size;
  },
};
