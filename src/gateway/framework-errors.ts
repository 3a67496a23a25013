// Errors raised before a request reaches the gateway's hooks, answered in the same shape as every
// other error (problem+json, request id, security headers) instead of the framework's own:
// - router errors (a malformed %-escape in the path, a path parameter longer than any ID);
// - connection-level errors of Node's HTTP parser (oversized headers, malformed framing, timeouts),
//   written straight onto the socket, which is then closed.
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, toProblem } from '../errors.js';
import { sendProblem } from './problem-handlers.js';
import { securityHeaderList } from './security-headers.js';

export function frameworkErrorHandler(options: { hsts: boolean }) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    for (const [k, v] of securityHeaderList(options)) reply.header(k, v);
    reply.header('X-Request-Id', request.id);
    // No object has an ID longer than the router's limit: the same answer as an unknown ID.
    const err =
      error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? new AppError('not_found')
        : new AppError('invalid_request', 'The request URL is malformed');
    sendProblem(reply, err);
  };
}

const PARSER_ERRORS: Record<string, AppError> = {
  HPE_HEADER_OVERFLOW: new AppError('headers_too_large'),
  ERR_HTTP_REQUEST_TIMEOUT: new AppError('request_timeout'),
};

const ERROR_FLUSH_MS = 1_000;

export function clientErrorHandler(options: { hsts: boolean }) {
  return (err: NodeJS.ErrnoException, socket: Socket): void => {
    // A peer that went away (or an HTTP/2 session error) has nothing left to answer.
    // Neither has a connection whose answer already started (a streamed body, then the request
    // timeout): an error response written now would land in the middle of it. Node checks the same.
    const started = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (err.code === 'ECONNRESET' || !socket.writable || started) {
      socket.destroy();
      return;
    }
    const appError = PARSER_ERRORS[err.code ?? ''] ?? new AppError('invalid_request', 'The request could not be parsed');
    const requestId = randomUUID();
    const body = JSON.stringify(toProblem(appError, requestId));
    const headers = [
      ['Content-Type', 'application/problem+json'],
      ['Content-Length', String(Buffer.byteLength(body))],
      ['Connection', 'close'],
      ['X-Request-Id', requestId],
      ...securityHeaderList(options),
    ];
    socket.end(
      `HTTP/1.1 ${appError.status} ${STATUS_CODES[appError.status] ?? 'Error'}\r\n${headers.map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n${body}`,
    );
    // end() only half-closes: a peer that never reads nor closes would keep the descriptor for
    // good. The answer gets a moment to reach the peer, then the socket goes.
    const destroy = setTimeout(() => socket.destroy(), ERROR_FLUSH_MS);
    destroy.unref();
    socket.once('close', () => clearTimeout(destroy));
  };
}
