// The check of a request against its route's upstream OpenAPI document, after authentication and
// before anything reaches the upstream. It answers what to forward as the body: the caller's stream
// when nothing needs reading, or the bytes that were read and validated (JSON media types).
import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import { decodeJsonBody, parseJsonBody } from '../json-body.js';
import { isJsonMediaType, type UpstreamApi } from './openapi.js';

export function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** The caller's body as bytes, cut off with 413 past the limit (the rest is never read). */
export async function readBody(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      stream.destroy();
      throw new AppError('payload_too_large');
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/**
 * Throws the problem the caller gets (404, 405, 400, 413, 415), or answers the body to send on.
 * `path` is the path the upstream would receive (prefix stripped, before its base path), with query.
 */
export async function checkOperation(
  api: UpstreamApi,
  request: FastifyRequest,
  path: string,
  options: { allowedMethods: readonly string[]; bodyLimit: number },
): Promise<Readable | undefined> {
  const found = api.lookup(request.method, path);
  if (found.kind === 'not_found') throw new AppError('not_found');
  if (found.kind === 'method_not_allowed') {
    const allow = found.allow.filter((m) => options.allowedMethods.includes(m));
    if (allow.length === 0) throw new AppError('not_found');
    throw new AppError('method_not_allowed', `This path answers ${allow.join(', ')}`, { Allow: allow.join(', ') });
  }
  const { operation, pathParams } = found;
  const queryAt = path.indexOf('?');
  operation.checkParameters({
    pathParams,
    query: new URLSearchParams(queryAt === -1 ? '' : path.slice(queryAt + 1)),
    headers: request.headers,
  });

  const stream = request.body as Readable | undefined;
  const sent = hasBody(request) && stream !== undefined;
  const declared = operation.body;
  if (declared === undefined) {
    if (sent) throw new AppError('validation_failed', 'body: this operation takes no request body');
    return undefined;
  }
  if (!sent) {
    if (declared.required) throw new AppError('validation_failed', 'body: required');
    return undefined;
  }
  const contentType = request.headers['content-type'];
  const mediaType = contentType === undefined ? undefined : declared.mediaTypeFor(contentType);
  if (mediaType === undefined) {
    throw new AppError('unsupported_media_type', `The body must be one of: ${declared.mediaTypes.join(', ')}`);
  }
  const validate = declared.jsonValidator(mediaType);
  if (validate === undefined || !isJsonMediaType(mediaType)) return stream;
  const bytes = await readBody(stream, options.bodyLimit);
  // The same parser as vaultgate's own bodies (no prototype keys, no duplicate keys, UTF-8 only),
  // except that the service's own numbers may have fractions.
  validate(parseJsonBody(decodeJsonBody(bytes, contentType), { integersOnly: false }));
  return Readable.from([bytes]);
}
