// JSON Schema, as much as the scanner needs: a valid value for a schema (request bodies and
// parameters), the properties an object declares, and the fields of an answer the schema does not
// declare (excessive data exposure).
import { randomUUID } from 'node:crypto';
import { isObject, type Schema } from './openapi.js';
import { sampleForPattern } from './regex-sample.js';

export function typesOf(schema: Schema): string[] {
  const t = schema.type;
  if (typeof t === 'string') return [t];
  if (Array.isArray(t)) return t.filter((x): x is string => typeof x === 'string');
  if (isObject(schema.properties) || schema.additionalProperties !== undefined) return ['object'];
  if (schema.items !== undefined) return ['array'];
  return [];
}

const branches = (schema: Schema): Schema[] => [schema.anyOf, schema.oneOf].flatMap((b) => (Array.isArray(b) ? b.filter(isObject) : []));

/** The first alternative that is not `null`: what a sample value follows. */
function mainBranch(schema: Schema): Schema {
  const alts = branches(schema);
  return alts.find((b) => !typesOf(b).every((t) => t === 'null') || typesOf(b).length === 0) ?? schema;
}

/** `allOf` members folded into one object schema (properties and required lists merged). */
export function merged(schema: Schema): Schema {
  const all = Array.isArray(schema.allOf) ? schema.allOf.filter(isObject) : [];
  const base = all.length === 0 && branches(schema).length > 0 && !isObject(schema.properties) ? mainBranch(schema) : schema;
  if (all.length === 0) return base;
  const properties: Record<string, unknown> = { ...(isObject(base.properties) ? base.properties : {}) };
  const required = new Set<string>(Array.isArray(base.required) ? base.required.filter((r) => typeof r === 'string') : []);
  for (const m of all.map(merged)) {
    if (isObject(m.properties)) Object.assign(properties, m.properties);
    if (Array.isArray(m.required)) for (const r of m.required) if (typeof r === 'string') required.add(r);
  }
  return { ...base, allOf: undefined, type: 'object', properties, required: [...required] };
}

export function propertiesOf(schema: Schema): Record<string, Schema> {
  const m = merged(schema);
  const out: Record<string, Schema> = {};
  if (isObject(m.properties)) for (const [k, v] of Object.entries(m.properties)) if (isObject(v)) out[k] = v;
  return out;
}

export function requiredOf(schema: Schema): string[] {
  const r = merged(schema).required;
  return Array.isArray(r) ? r.filter((x): x is string => typeof x === 'string') : [];
}

export interface SampleContext {
  /** A short marker of this scan, put in free-text values so they are recognizable. */
  marker: string;
  /** A value for an id-like property or parameter (from the objects the scan created). */
  idFor?: ((name: string, schema: Schema) => string | undefined) | undefined;
  /** Include optional properties too. */
  optional?: boolean;
  /** Random characters in patterned strings (ids that do not exist). */
  random?: boolean;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function sampleString(schema: Schema, ctx: SampleContext, name: string): string {
  const minLength = num(schema.minLength) ?? 0;
  const maxLength = num(schema.maxLength);
  const fit = (s: string) => {
    const padded = s.length < minLength ? s + 'x'.repeat(minLength - s.length) : s;
    return maxLength !== undefined ? padded.slice(0, Math.max(maxLength, minLength)) : padded;
  };
  switch (schema.format) {
    case 'email':
      return fit(`${ctx.marker}@example.com`);
    case 'date':
      return '1990-01-01';
    case 'date-time':
      return new Date().toISOString();
    case 'uri':
    case 'url':
    case 'iri':
      return fit(`https://example.com/${ctx.marker}`);
    case 'uuid':
      return randomUUID();
    case 'ipv4':
      return '192.0.2.1';
    default:
      break;
  }
  if (typeof schema.pattern === 'string') {
    const v = sampleForPattern(schema.pattern, { minLength, maxLength, random: ctx.random === true });
    if (v !== undefined) return v;
  }
  return fit(name ? `${ctx.marker}-${name}`.slice(0, 40) : ctx.marker);
}

function sampleNumber(schema: Schema, integer: boolean): number {
  const min =
    num(schema.minimum) ?? (num(schema.exclusiveMinimum) !== undefined ? (num(schema.exclusiveMinimum) as number) + 1 : undefined);
  const max =
    num(schema.maximum) ?? (num(schema.exclusiveMaximum) !== undefined ? (num(schema.exclusiveMaximum) as number) - 1 : undefined);
  let v = min ?? (max !== undefined && max < 1 ? max : 1);
  const step = num(schema.multipleOf);
  if (step) v = Math.ceil(v / step) * step;
  return integer ? Math.ceil(v) : v;
}

/** A value valid for `schema`, or undefined when the schema admits nothing the sampler knows. */
export function sample(schema: Schema, ctx: SampleContext, name = '', depth = 0): unknown {
  if (depth > 12) return undefined;
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum.find((e) => e !== null) ?? schema.enum[0];
  const s = merged(schema);
  if (s !== schema) return sample(s, ctx, name, depth + 1);
  const type = typesOf(s).find((t) => t !== 'null') ?? (typesOf(s).length === 0 ? 'string' : 'null');
  switch (type) {
    case 'string': {
      const id = ctx.idFor?.(name, s);
      return id ?? sampleString(s, ctx, name);
    }
    case 'integer':
      return sampleNumber(s, true);
    case 'number':
      return sampleNumber(s, false);
    case 'boolean':
      return false;
    case 'null':
      return null;
    case 'array': {
      const items = isObject(s.items) ? s.items : {};
      const count = Math.max(num(s.minItems) ?? 1, 1);
      const max = num(s.maxItems) ?? count;
      const out: unknown[] = [];
      for (let i = 0; i < Math.min(count, max); i += 1) out.push(sample(items, ctx, name.replace(/s$/, ''), depth + 1));
      return out;
    }
    case 'object': {
      const props = propertiesOf(s);
      const required = new Set(requiredOf(s));
      const out: Record<string, unknown> = {};
      for (const [k, p] of Object.entries(props)) {
        if (!required.has(k) && !ctx.optional) continue;
        if (p.readOnly === true) continue;
        const v = sample(p, ctx, k, depth + 1);
        if (v !== undefined) out[k] = v;
      }
      return out;
    }
    default:
      return undefined;
  }
}

/**
 * The paths (`data[].internal_score`) of the fields in `value` that `schema` does not declare. A
 * field is declared when a property names it or an `additionalProperties` schema admits it; an
 * object schema with neither properties nor additionalProperties declares nothing to judge.
 */
export function undeclaredFields(value: unknown, schema: Schema | undefined, path = ''): string[] {
  if (!schema) return [];
  const alts = branches(schema);
  if (alts.length > 0 && !isObject(schema.properties)) {
    // Declared by any alternative: the one that leaves the fewest fields undeclared.
    const results = alts.map((b) => undeclaredFields(value, b, path));
    return results.reduce((a, b) => (b.length < a.length ? b : a));
  }
  const s = merged(schema);
  if (Array.isArray(value)) {
    const items = isObject(s.items) ? s.items : undefined;
    const seen = new Set<string>();
    for (const v of value.slice(0, 50)) for (const f of undeclaredFields(v, items, `${path}[]`)) seen.add(f);
    return [...seen];
  }
  if (!isObject(value)) return [];
  const props = propertiesOf(s);
  const additional = s.additionalProperties;
  if (Object.keys(props).length === 0 && additional === undefined) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const at = path ? `${path}.${k}` : k;
    const declared = props[k];
    if (declared) out.push(...undeclaredFields(v, declared, at));
    else if (isObject(additional)) out.push(...undeclaredFields(v, additional, at));
    else if (additional !== true) out.push(at);
  }
  return out;
}

/** Every (path, value) of a JSON value, depth-first, bounded. */
export function* fields(value: unknown, path = '', depth = 0): Generator<[string, string, unknown]> {
  if (depth > 16) return;
  if (Array.isArray(value)) {
    for (const v of value.slice(0, 100)) yield* fields(v, `${path}[]`, depth + 1);
  } else if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      const at = path ? `${path}.${k}` : k;
      yield [at, k, v];
      yield* fields(v, at, depth + 1);
    }
  }
}

/** Every string value of a JSON value (bounded), e.g. to look for ids an answer shows. */
export function stringValues(value: unknown): Set<string> {
  const out = new Set<string>();
  if (typeof value === 'string') out.add(value);
  for (const [, , v] of fields(value)) if (typeof v === 'string') out.add(v);
  return out;
}
