// Replaces Fastify's error and not-found handlers: only deliberate errors (AppError and the
// framework's own 4xx for media type, size and JSON) reach the client, always as problem+json.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, toProblem, type ErrorCode } from '../errors.js';
import type { AllowedMethods } from './allowed-methods.js';
import { describeValidationError } from './validation.js';

export function sendProblem(reply: FastifyReply, err: AppError): FastifyReply {
  for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
  return reply
    .code(err.status)
    .type('application/problem+json')
    .send(JSON.stringify(toProblem(err, String(reply.request.id))));
}

// Fastify's own errors that describe the client's mistake.
const FRAMEWORK_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_request',
  FST_ERR_BAD_URL: 'invalid_request',
  FST_ERR_ASYNC_CONSTRAINT: 'invalid_request',
};

export function toAppError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  const fe = err as Partial<FastifyError> & { validationContext?: string };
  if (fe?.validation) {
    return new AppError('validation_failed', describeValidationError(fe.validation as never, fe.validationContext ?? 'body'));
  }
  const code = fe?.code ? FRAMEWORK_CODES[fe.code] : undefined;
  if (code) return new AppError(code);
  if (fe?.statusCode === 413) return new AppError('payload_too_large');
  if (fe?.statusCode === 415) return new AppError('unsupported_media_type');
  return undefined;
}

export function installProblemHandlers(app: FastifyInstance, allowed?: AllowedMethods): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const appError = toAppError(err);
    if (appError) return sendProblem(reply, appError);
    // The client went away mid-request: nothing is wrong here, and nobody reads the answer.
    const code = (err as { code?: string })?.code;
    if (code === 'ECONNRESET' || code === 'ECONNABORTED' || (err as Error)?.message === 'aborted') {
      request.log.debug({ err_code: code }, 'client aborted the request');
      return sendProblem(reply, new AppError('invalid_request', 'The request was aborted'));
    }
    // Unexpected: log the error class and request id only; the client gets a generic 500.
    request.log.error(
      { err_name: (err as Error)?.name, err_code: (err as { code?: string })?.code, stack: (err as Error)?.stack },
      'unhandled error',
    );
    return sendProblem(reply, new AppError('internal_error'));
  });
  app.setNotFoundHandler((request, reply) => sendProblem(reply, notFoundError(request, allowed)));
}

/** A request no route takes: 405 with Allow when the path exists for other methods, else 404. */
export function notFoundError(request: FastifyRequest, allowed: AllowedMethods | undefined): AppError {
  const methods = allowed?.of(request.url.split('?')[0] ?? '') ?? [];
  if (methods.length > 0 && !methods.includes(request.method)) {
    return new AppError('method_not_allowed', `This path answers ${methods.join(', ')}`, { Allow: methods.join(', ') });
  }
  return new AppError('not_found');
}
