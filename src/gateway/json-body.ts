// The JSON body parser: secure-json-parse refuses __proto__ and constructor.prototype keys
// (prototype pollution), and any non-integer number literal is refused, because no field of the
// API takes one and JSON.parse would silently turn `100.0` into the integer 100. The bytes must
// be UTF-8 (RFC 8259 §8.1): another declared charset is refused, and so are invalid sequences,
// which a lenient decoder would silently replace. No string may hold a NUL character.
import sjson from 'secure-json-parse';
import { AppError } from '../errors.js';

/** True when the JSON text holds a number literal with a fraction or an exponent. */
export function hasNonIntegerNumber(text: string): boolean {
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++; // skip the escaped character
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      // A number token: digits, sign, fraction and exponent characters.
      let j = i;
      while (j < text.length && /[-+0-9.eE]/.test(text[j] as string)) j++;
      if (/[.eE]/.test(text.slice(i, j))) return true;
      i = j - 1;
    }
  }
  return false;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)/i;

export function decodeJsonBody(body: Buffer, contentType: string | undefined): string {
  const charset = CHARSET.exec(contentType ?? '')?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new AppError('unsupported_media_type', 'JSON bodies must be UTF-8');
  }
  try {
    return utf8.decode(body);
  } catch {
    throw new AppError('invalid_request', 'The request body is not valid UTF-8');
  }
}

function holdsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\0');
  if (Array.isArray(value)) return value.some(holdsNul);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).some(([k, v]) => k.includes('\0') || holdsNul(v));
  }
  return false;
}

export function parseJsonBody(text: string): unknown {
  let value: unknown;
  try {
    value = sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch {
    throw new AppError('invalid_request', 'The request body is not valid JSON');
  }
  if (hasNonIntegerNumber(text)) {
    throw new AppError('validation_failed', 'Numbers must be integers (amounts are in minor units)');
  }
  // A NUL can only arrive escaped (\u0000); only then is the value walked.
  if (/\\u0000/i.test(text) && holdsNul(value)) {
    throw new AppError('validation_failed', 'Strings must not contain NUL characters');
  }
  return value;
}
