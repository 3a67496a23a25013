// The structured logger (pino). Redaction is configuration: credentials and personal fields are
// removed wherever they appear in a logged object.
import pino, { type Logger } from 'pino';

export const REDACT_PATHS = [
  'authorization', 'cookie', 'dpop', 'password', 'client_secret', 'secret', 'token', 'access_token', 'refresh_token',
  'id_token', 'code', 'key', 'private_key', 'full_name', 'email', 'phone', 'date_of_birth', 'national_id', 'address',
  '*.authorization', '*.cookie', '*.dpop', '*.password', '*.client_secret', '*.secret', '*.token', '*.access_token',
  '*.refresh_token', '*.id_token', '*.private_key', '*.full_name', '*.email', '*.phone', '*.date_of_birth',
  '*.national_id', '*.address', 'req.headers.authorization', 'req.headers.cookie', 'req.headers.dpop',
  'res.headers["set-cookie"]', 'body', '*.body',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'vaultgate' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
