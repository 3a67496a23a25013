// Schemas shared by every route: the problem+json error body, and the small TypeBox helpers the
// route files build their schemas with.
import Type, { type Static, type TSchema } from 'typebox';

/** `type: [T, "null"]`: the same JSON Schema as before TypeBox (not an anyOf), typed `T | null`. */
export function Nullable<T extends TSchema & { type: string }>(schema: T): ReturnType<typeof Type.Unsafe<Static<T> | null>> {
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [schema.type, 'null'] });
}

/** A string enum as `{ type: "string", enum: [...] }` (TypeBox's own would be an anyOf of literals). */
export function StringEnum<const T extends readonly string[]>(values: T, options: Record<string, unknown> = {}) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/** An object that refuses unknown properties (docs/contract.md §3: no mass assignment). */
export function Strict<T extends Parameters<typeof Type.Object>[0]>(properties: T, options: Record<string, unknown> = {}) {
  return Type.Object(properties, { additionalProperties: false, ...options });
}

/** An opaque id with its type prefix: `acc_` + 26 base-32 characters. */
export const Id = (prefix: string) => Type.String({ pattern: `^${prefix}_[0-9a-z]{26}$` });

/** `{ id }` path parameters. */
export const IdParams = (prefix: string) => Strict({ id: Id(prefix) });

export const problemSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'title', 'status', 'code', 'request_id'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    code: { type: 'string' },
    detail: { type: 'string' },
    request_id: { type: 'string' },
  },
};

/** Documented error answers; problem bodies are sent pre-serialized, so this is for OpenAPI. */
export const problemResponses = {
  '4XX': { description: 'Problem (RFC 9457)', content: { 'application/problem+json': { schema: problemSchema } } },
} as Record<string, object>;
