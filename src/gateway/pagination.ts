// List conventions (docs/contract.md §3): ?limit=1..100 (default 20) and starting_after=ID →
// { data, has_more, next_cursor }.
import Type, { type TSchema } from 'typebox';
import { Nullable } from './schemas.js';

export const DEFAULT_LIMIT = 20;

export const listQueryProperties = {
  limit: { type: 'integer', minimum: 1, maximum: 100, default: DEFAULT_LIMIT },
  starting_after: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-z]{2,4}_[0-9a-z]{26}$' },
} as const;

/**
 * The list query parameters as TypeBox properties. `limit` is optional to callers (the document
 * says so) and filled with its default by validation, so handlers read it through pageSize().
 */
export const ListQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: DEFAULT_LIMIT })),
  starting_after: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z]{2,4}_[0-9a-z]{26}$' })),
};

/** The page size asked for (validation has filled in the default). */
export const pageSize = (query: { limit?: number | undefined }): number => query.limit ?? DEFAULT_LIMIT;

/** A page of `item`s, typed. */
export function ListOf<T extends TSchema>(item: T) {
  return Type.Object(
    { data: Type.Array(item), has_more: Type.Boolean(), next_cursor: Nullable(Type.String()) },
    { additionalProperties: false },
  );
}

export function listResponse(item: object): object {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['data', 'has_more', 'next_cursor'],
    properties: {
      data: { type: 'array', items: item },
      has_more: { type: 'boolean' },
      next_cursor: { type: ['string', 'null'] },
    },
  };
}

export interface Page<T> {
  data: T[];
  has_more: boolean;
  next_cursor: string | null;
}

/** rows holds up to limit+1 items (one extra tells whether there is more). */
export function toPage<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const data = rows.slice(0, limit);
  const hasMore = rows.length > limit;
  return { data, has_more: hasMore, next_cursor: hasMore ? (data[data.length - 1]?.id ?? null) : null };
}
