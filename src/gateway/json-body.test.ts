// The JSON body parser on the real module: duplicate keys at any depth (compared after
// unescaping) and non-integer numbers are refused; equal keys in sibling objects are fine.
import fc from 'fast-check';
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
  expect(refusal('{"amount":1,"currency":"EUR","amount":77}')).toEqual({
    code: 'validation_failed',
    detail: 'Duplicate key "amount" in the JSON body',
  });
  expect(refusal('{"metadata":{"a":"1","b":"2","a":"3"}}')).toEqual({
    code: 'validation_failed',
    detail: 'Duplicate key "a" in the JSON body',
  });
  expect(refusal('[{"x":[{"k":1,"k":2}]}]')?.detail).toBe('Duplicate key "k" in the JSON body');
});

it('compares keys after unescaping: "amount" and "\\u0061mount" are one key', () => {
  expect(refusal('{"amount":1,"\\u0061mount":77}')?.detail).toBe('Duplicate key "amount" in the JSON body');
  expect(refusal('{"a\\"b":1,"a\\u0022b":2}')?.detail).toBe('Duplicate key "a\\"b" in the JSON body');
});

it('accepts the same key in sibling objects, in arrays of objects, and as a value', () => {
  expect(parseJsonBody('{"a":{"id":1},"b":{"id":2},"list":[{"id":1},{"id":2}],"c":"a","d":["a","a"]}')).toEqual({
    a: { id: 1 },
    b: { id: 2 },
    list: [{ id: 1 }, { id: 2 }],
    c: 'a',
    d: ['a', 'a'],
  });
  // A key equal to a string value elsewhere, and an escaped quote inside a value, do not confuse it.
  expect(scanJsonText('{"x":"y\\"","y":"x","z":{"x":1}}')).toEqual({ nonInteger: false, duplicateKey: undefined });
});

it('still refuses non-integer numbers, and not digits inside strings', () => {
  expect(refusal('{"amount":100.0}')?.detail).toBe('Numbers must be integers (amounts are in minor units)');
  expect(refusal('{"amount":1e3}')?.code).toBe('validation_failed');
  expect(parseJsonBody('{"reference":"1.5e3","amount":-15}')).toEqual({ reference: '1.5e3', amount: -15 });
});

it('tracks each object on its own: a key repeated after a nested object closes is caught, one inside a sibling is not', () => {
  expect(refusal('{"a":{"x":1},"b":[{"x":2},{"x":3}],"a":2}')?.detail).toBe('Duplicate key "a" in the JSON body');
  expect(refusal('{"a":{"b":{"c":1,"d":[],"c":2}}}')?.detail).toBe('Duplicate key "c" in the JSON body');
  expect(refusal('{"k":"v","o":{"k":"v"},"k":"w"}')?.detail).toBe('Duplicate key "k" in the JSON body');
  expect(refusal('{"a\\\\":1,"a\\u005c":2}')?.detail).toBe('Duplicate key "a\\\\" in the JSON body');
  expect(refusal('{"a":{"b":1},"c":{"b":1},"d":{"a":1,"c":1}}')).toBeUndefined();
  expect(refusal('{"\\u00e9":1,"é":2}')?.detail).toBe('Duplicate key "é" in the JSON body');
});

it('agrees with a parse-and-compare reference on generated JSON (one duplicate injected or none)', () => {
  const key = fc.constantFrom('a', 'b', 'amount', 'é', 'a"b', 'a\\b', '\u0000x');
  const value = fc.letrec((tie) => ({
    v: fc.oneof(
      { maxDepth: 3 },
      fc.integer(),
      fc.string({ maxLength: 4 }),
      fc.constant(null),
      fc.array(tie('v'), { maxLength: 3 }),
      tie('o'),
    ),
    o: fc.dictionary(key, tie('v'), { maxKeys: 4 }),
  })).o;
  fc.assert(
    fc.property(value, fc.boolean(), (obj, inject) => {
      let text = JSON.stringify(obj);
      const first = Object.keys(obj)[0];
      if (inject && first !== undefined) text = `${text.slice(0, -1)},${JSON.stringify(first)}:0}`;
      expect(scanJsonText(text).duplicateKey).toBe(inject ? first : undefined);
    }),
  );
});
