// The JSON body parser: secure-json-parse refuses __proto__ and constructor.prototype keys
// (prototype pollution), and any non-integer number literal is refused, because no field of the
// API takes one and JSON.parse would silently turn `100.0` into the integer 100. The bytes must
// be UTF-8 (RFC 8259 §8.1): another declared charset is refused, and so are invalid sequences,
// which a lenient decoder would silently replace. No string may hold a NUL character, and no
// object a key twice.
import sjson from 'secure-json-parse';
import { AppError } from '../errors.js';

export interface JsonTextFacts {
  /** A number literal with a fraction or an exponent. */
  nonInteger: boolean;
  /** The first key that appears twice in one object (compared after unescaping). */
  duplicateKey: string | undefined;
}

// Character codes the scanner branches on (charCodeAt: no one-character strings, no regex per byte).
const QUOTE = 0x22,
  BACKSLASH = 0x5c,
  OPEN_OBJECT = 0x7b,
  CLOSE_OBJECT = 0x7d,
  OPEN_ARRAY = 0x5b,
  CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c,
  MINUS = 0x2d,
  PLUS = 0x2b,
  DOT = 0x2e,
  ZERO = 0x30,
  NINE = 0x39,
  LOWER_E = 0x65,
  UPPER_E = 0x45;

/**
 * One pass over JSON text that JSON.parse accepted: number literals that are not integers, and
 * keys repeated within one object. JSON.parse keeps the last of two equal keys; a signer, a filter
 * or a log in front of us may read the first, and would see another request than the one booked
 * (RFC 8259 §4: names SHOULD be unique; RFC 7493 I-JSON: MUST).
 */
export function scanJsonText(text: string): JsonTextFacts {
  // One frame per open object (its keys so far, and whether a key comes next) or array (no keys).
  const frames: Array<{ keys: Set<string> | undefined; expectKey: boolean }> = [];
  let nonInteger = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // A string: find its closing quote, skipping escaped characters.
      let j = i + 1;
      let escaped = false;
      for (; j < n; j++) {
        const d = text.charCodeAt(j);
        if (d === BACKSLASH) {
          escaped = true;
          j++;
        } else if (d === QUOTE) break;
      }
      const frame = frames[frames.length - 1];
      if (frame?.keys && frame.expectKey) {
        // Keys are compared as JSON.parse sees them: "\u0061mount" is "amount".
        const key = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
        if (frame.keys.has(key)) return { nonInteger, duplicateKey: key };
        frame.keys.add(key);
        frame.expectKey = false;
      }
      i = j;
    } else if (c === OPEN_OBJECT) {
      frames.push({ keys: new Set(), expectKey: true });
    } else if (c === OPEN_ARRAY) {
      frames.push({ keys: undefined, expectKey: false });
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      frames.pop();
    } else if (c === COMMA) {
      const frame = frames[frames.length - 1];
      if (frame?.keys) frame.expectKey = true;
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
      // A number token: digits, sign, fraction and exponent characters; a '.' or an 'e' makes it
      // a non-integer.
      let j = i;
      for (; j < n; j++) {
        const d = text.charCodeAt(j);
        if (d === DOT || d === LOWER_E || d === UPPER_E) nonInteger = true;
        else if (!(d >= ZERO && d <= NINE) && d !== MINUS && d !== PLUS) break;
      }
      i = j - 1;
    }
  }
  return { nonInteger, duplicateKey: undefined };
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

/**
 * `integersOnly` is vaultgate's own rule (amounts are minor units); a service behind the gateway
 * declares its own numbers in its OpenAPI document and may take fractions.
 */
export function parseJsonBody(text: string, options: { integersOnly: boolean } = { integersOnly: true }): unknown {
  let value: unknown;
  try {
    value = sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch {
    throw new AppError('invalid_request', 'The request body is not valid JSON');
  }
  const facts = scanJsonText(text);
  if (facts.duplicateKey !== undefined) {
    throw new AppError('validation_failed', `Duplicate key ${JSON.stringify(facts.duplicateKey.slice(0, 64))} in the JSON body`);
  }
  if (options.integersOnly && facts.nonInteger) {
    throw new AppError('validation_failed', 'Numbers must be integers (amounts are in minor units)');
  }
  // A NUL can only arrive escaped (\u0000); only then is the value walked.
  if (/\\u0000/i.test(text) && holdsNul(value)) {
    throw new AppError('validation_failed', 'Strings must not contain NUL characters');
  }
  return value;
}
