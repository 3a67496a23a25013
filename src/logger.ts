// The structured logger (pino). Redaction is configuration: credentials and personal fields are
// removed wherever they appear in a logged object.
//
// Log lines go to stdout through a bounded buffer: a log shipper that stops reading (a full pipe)
// must neither stall request handling (a synchronous write would wait on it) nor grow the
// server's memory without bound. Lines beyond the buffer are dropped and counted, and once the
// consumer reads again one line says how many were lost. The audit log is not affected: it is the
// durable record, written to the database.
import pino, { type Logger } from 'pino';

export const REDACT_PATHS = [
  'authorization',
  'cookie',
  'dpop',
  'password',
  'client_secret',
  'secret',
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'code',
  'key',
  'private_key',
  'full_name',
  'email',
  'phone',
  'date_of_birth',
  'national_id',
  'address',
  '*.authorization',
  '*.cookie',
  '*.dpop',
  '*.password',
  '*.client_secret',
  '*.secret',
  '*.token',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  '*.private_key',
  '*.full_name',
  '*.email',
  '*.phone',
  '*.date_of_birth',
  '*.national_id',
  '*.address',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers.dpop',
  'res.headers["set-cookie"]',
  'body',
  '*.body',
];

/** Bytes of log lines held while stdout does not take them. */
export const DEFAULT_LOG_BUFFER_BYTES = 4 * 1024 * 1024;

/** Lines dropped because the log consumer was stuck, since the process started (a metric reads it). */
let dropped = 0;
export const droppedLogLines = (): number => dropped;

/** stdout, asynchronous, holding at most `maxBytes` of unwritten lines. */
function boundedStdout(maxBytes: number) {
  const stream = pino.destination({ dest: 1, sync: false, maxLength: maxBytes });
  let pending = 0; // dropped lines not yet reported
  stream.on('drop', () => {
    dropped++;
    pending++;
  });
  return {
    stream,
    /** Once everything buffered has been written (the consumer reads again): report what was lost, once. */
    onRecovered(report: (lost: number) => void) {
      stream.on('drain', () => {
        if (pending === 0) return;
        const lost = pending;
        pending = 0;
        report(lost);
      });
    },
  };
}

export function createLogger(level: string, destination?: pino.DestinationStream, options: { bufferBytes?: number } = {}): Logger {
  const stdout = destination ? undefined : boundedStdout(options.bufferBytes ?? DEFAULT_LOG_BUFFER_BYTES);
  const logger = pino(
    {
      level,
      base: { service: 'vaultgate' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? stdout?.stream,
  );
  stdout?.onRecovered((lost) =>
    logger.warn({ event: 'log.lines_dropped', dropped: lost }, 'log lines were dropped while the log consumer was not reading'),
  );
  return logger;
}
