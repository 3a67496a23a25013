// Schemas shared by every route: the problem+json error body.

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
