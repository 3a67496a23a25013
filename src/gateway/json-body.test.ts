// The JSON body parser on the real module: duplicate keys at any depth (compared after
// unescaping) and non-integer numbers are refused; equal keys in sibling objects are fine.
import { expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { parseJsonBody, scanJsonText } from './json-body.js';

function refusal(text: string): { code: string; detail: string | undefined } | undefined {
  try {
    parseJsonBody(text);
    return undefined;
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return { code: err.code, detail: err.detail };
  }
}

it('refuses a key repeated in one object, at any depth, naming it', () => {
  expect(refusal('{"amount":1,"currency":"EUR","amount":77}')).toEqual({ code: 'validation_failed', detail: 'Duplicate key "amount" in the JSON body' });
  expect(refusal('{"metadata":{"a":"1","b":"2","a":"3"}}')).toEqual({ code: 'validation_failed', detail: 'Duplicate key "a" in the JSON body' });
  expect(refusal('[{"x":[{"k":1,"k":2}]}]')?.detail).toBe('Duplicate key "k" in the JSON body');
});

it('compares keys after unescaping: "amount" and "\\u0061mount" are one key', () => {
  expect(refusal('{"amount":1,"\\u0061mount":77}')?.detail).toBe('Duplicate key "amount" in the JSON body');
  expect(refusal('{"a\\"b":1,"a\\u0022b":2}')?.detail).toBe('Duplicate key "a\\"b" in the JSON body');
});

it('accepts the same key in sibling objects, in arrays of objects, and as a value', () => {
  expect(parseJsonBody('{"a":{"id":1},"b":{"id":2},"list":[{"id":1},{"id":2}],"c":"a","d":["a","a"]}')).toEqual({
    a: { id: 1 }, b: { id: 2 }, list: [{ id: 1 }, { id: 2 }], c: 'a', d: ['a', 'a'],
  });
  // A key equal to a string value elsewhere, and an escaped quote inside a value, do not confuse it.
  expect(scanJsonText('{"x":"y\\"","y":"x","z":{"x":1}}')).toEqual({ nonInteger: false, duplicateKey: undefined });
});

it('still refuses non-integer numbers, and not digits inside strings', () => {
  expect(refusal('{"amount":100.0}')?.detail).toBe('Numbers must be integers (amounts are in minor units)');
  expect(refusal('{"amount":1e3}')?.code).toBe('validation_failed');
  expect(parseJsonBody('{"reference":"1.5e3","amount":-15}')).toEqual({ reference: '1.5e3', amount: -15 });
});
