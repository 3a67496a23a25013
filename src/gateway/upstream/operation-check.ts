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

/**
 * The caller's body as bytes: cut off with 413 past the limit and 408 when no byte came for
 * `idleMs` (the rest is never read, so an HTTP/1.x connection is closed after the answer).
 */
export function readBody(stream: Readable, limit: number, idleMs: number): Promise<Buffer> {
  const close = (stream as { httpVersionMajor?: unknown }).httpVersionMajor === 1 ? { Connection: 'close' } : {};
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (err: AppError) => {
      clearTimeout(idle);
      stream.off('data', onData);
      // Not destroyed: that would take the connection, and the answer, with it. The unread rest
      // is dropped when the answer closes the connection.
      stream.pause();
      reject(err);
    };
    const idle = setTimeout(() => stop(new AppError('request_timeout', 'The request body stopped arriving', close)), idleMs);
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return stop(new AppError('payload_too_large', undefined, close));
      chunks.push(chunk);
      idle.refresh();
    };
    stream.on('data', onData);
    stream.once('end', () => {
      clearTimeout(idle);
      resolve(Buffer.concat(chunks, size));
    });
    // The caller went away: its own error, nothing to answer (as the proxy client does).
    stream.once('error', (err) => {
      clearTimeout(idle);
      reject(err);
    });
  });
}

/**
 * Throws the problem the caller gets (404, 405, 400, 413, 415), or answers the body to send on.
 * `path` is the path the upstream would receive (prefix stripped, before its base path), with query.
 */
export async function checkOperation(
  api: UpstreamApi,
  request: FastifyRequest,
  path: string,
  options: { allowedMethods: readonly string[]; bodyLimit: number; bodyIdleMs: number },
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
  const bytes = await readBody(stream, options.bodyLimit, options.bodyIdleMs);
  // The same parser as vaultgate's own bodies (no prototype keys, no duplicate keys, UTF-8 only),
  // except that the service's own numbers may have fractions.
  validate(parseJsonBody(decodeJsonBody(bytes, contentType), { integersOnly: false }));
  return Readable.from([bytes]);
}
