// The JSON body parser: secure-json-parse refuses __proto__ and constructor.prototype keys
// (prototype pollution), and any non-integer number literal is refused, because no field of the
// API takes one and JSON.parse would silently turn `100.0` into the integer 100.
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
  return value;
}
