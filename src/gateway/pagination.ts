// List conventions (CONTRACT §3): ?limit=1..100 (default 20) and starting_after=ID →
// { data, has_more, next_cursor }.

export const listQueryProperties = {
  limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
  starting_after: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-z]{2,4}_[0-9a-z]{26}$' },
} as const;

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
