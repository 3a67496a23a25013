// Validators compiled once at start. Bodies are validated strictly: no type coercion (a string
// "100" is not an amount) and unknown properties refused (schemas say additionalProperties:false).
// Query strings and path params arrive as text, so they may be coerced to their declared types.
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function makeAjv(coerceTypes: boolean): Ajv {
  const ajv = new Ajv({ coerceTypes, removeAdditional: false, useDefaults: true, allErrors: false, strict: true });
  ajv.addKeyword('example');
  addFormats(ajv);
  return ajv;
}

const bodyAjv = makeAjv(false);
const textAjv = makeAjv(true);

export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'body' ? bodyAjv : textAjv;
  return ajv.compile(schema) as ReturnType<FastifySchemaCompiler<object>>;
};

/** One clear sentence for the first validation error, naming the field. */
export function describeValidationError(errors: readonly ErrorObject[] | undefined, part: string): string {
  const e = errors?.[0];
  if (!e) return 'The request is not valid';
  const where = part === 'body' ? 'body' : part === 'querystring' ? 'query' : part;
  const path = e.instancePath ? e.instancePath.slice(1).replaceAll('/', '.') : '';
  const field = path ? `${where}.${path}` : where;
  switch (e.keyword) {
    case 'additionalProperties':
      return `${field}: unknown property "${String(e.params.additionalProperty)}"`;
    case 'required':
      return `${field}: missing property "${String(e.params.missingProperty)}"`;
    case 'enum': {
      // The choices are the schema's own (never the caller's value): say them, when they fit a line.
      const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues ?? [];
      return allowed.length > 0 && allowed.length <= 40
        ? `${field}: must be one of ${allowed.map(String).join(', ')}`
        : `${field}: ${e.message ?? 'is not valid'}`;
    }
    default:
      return `${field}: ${e.message ?? 'is not valid'}`;
  }
}
