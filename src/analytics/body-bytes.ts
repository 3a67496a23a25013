// The bytes of a request's and its answer's bodies, for usage analytics, when the Content-Length
// headers do not say them: a chunked request body (read by the JSON parser, or streamed to an
// upstream) and a streamed upstream answer without a length. Set by whoever read or wrote the body.
import { pipeline, Transform, type Readable } from 'node:stream';

declare module 'fastify' {
  interface FastifyRequest {
    /** Counted body sizes; null when the headers are all there is. */
    bodyBytes: { in?: () => number; out?: () => number } | null;
  }
}

/** The stream, passed through, with a count of the bytes that went by. */
export function countBytes(body: Readable): { stream: Readable; count: () => number } {
  let seen = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      done(null, chunk);
    },
  });
  // pipeline, not pipe: a caller that goes away destroys the counter, and with it the upstream's
  // body (whose connection would otherwise wait for its body timeout).
  pipeline(body, stream, () => undefined);
  return { stream, count: () => seen };
}
