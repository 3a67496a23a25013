// Options of the CLI: each command declares its own (name, value, help), and the same declaration
// parses the arguments, refuses a mistake with one line naming it, and prints `--help`.
import { parseArgs } from 'node:util';
import { CliError } from './context.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** The value's placeholder in help (`NAME`, `FILE`); string options only. */
  value?: string;
  help: string;
  multiple?: boolean;
}

export interface CommandSpec {
  /** As typed: `clients create`. */
  name: string;
  summary: string;
  /** Positional arguments, as shown in help (`CLIENT_ID`); none when undefined. */
  args?: string;
  options: Readonly<Record<string, OptionSpec>>;
}

/** `--json` and `--help` go with every command. */
const COMMON: Record<string, OptionSpec> = {
  json: { type: 'boolean', help: 'print one JSON document on stdout and nothing else there' },
  help: { type: 'boolean', help: 'show this help' },
};

/** Thrown by parseOptions for `--help`: main prints the command's help and exits 0. */
export class HelpRequested extends Error {
  constructor(readonly spec: CommandSpec) {
    super(spec.name);
  }
}

const flag = (name: string, o: OptionSpec) => `--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;

export function usageLine(spec: CommandSpec): string {
  const options = Object.entries(spec.options).map(([name, o]) => `[${flag(name, o)}]`);
  return ['vaultgate', spec.name, ...(spec.args ? [spec.args] : []), ...options].join(' ');
}

export function helpText(spec: CommandSpec): string {
  const all = { ...spec.options, ...COMMON };
  const width = Math.max(...Object.entries(all).map(([n, o]) => flag(n, o).length));
  return [
    `usage: ${usageLine(spec)}`,
    '',
    spec.summary,
    '',
    'options:',
    ...Object.entries(all).map(([n, o]) => `  ${flag(n, o).padEnd(width)}  ${o.help}${o.multiple ? ' (repeatable)' : ''}`),
  ].join('\n');
}

interface ParseError {
  code?: string;
  message: string;
}

/** One line that names the mistake (node:util's own messages are long and speak of `--`). */
function explain(spec: CommandSpec, err: ParseError): string {
  const hint = `see vaultgate ${spec.name} --help`;
  const option = /'(-{1,2}[^' ]+)/.exec(err.message)?.[1];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `${spec.name}: unknown option ${option ?? ''} (${hint})`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /does not take an argument/.test(err.message)
        ? `${spec.name}: ${option ?? 'an option'} takes no value (${hint})`
        : `${spec.name}: ${option ?? 'an option'} needs a value (${hint})`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `${spec.name}: unexpected argument ${/'([^']*)'/.exec(err.message)?.[1] ?? ''} (${hint})`;
    default:
      return `${spec.name}: bad arguments (${hint})`;
  }
}

export type Values<S extends CommandSpec> = {
  [K in keyof S['options']]?: S['options'][K] extends { type: 'boolean' }
    ? boolean
    : S['options'][K] extends { multiple: true }
      ? string[]
      : string;
};

export function parseOptions<S extends CommandSpec>(spec: S, args: string[]): { values: Values<S>; positionals: string[] } {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: spec.args !== undefined,
      strict: true,
      options: Object.fromEntries(
        Object.entries({ ...spec.options, ...COMMON }).map(([n, o]) => [n, { type: o.type, ...(o.multiple ? { multiple: true } : {}) }]),
      ),
    });
  } catch (err) {
    if (args.includes('--help')) throw new HelpRequested(spec);
    throw new CliError(explain(spec, err as ParseError));
  }
  if (parsed.values.help === true) throw new HelpRequested(spec);
  // A string option given an empty value, or another option as its value (`--scopes --json`).
  for (const [name, o] of Object.entries(spec.options)) {
    const v = parsed.values[name];
    const list = Array.isArray(v) ? v : v === undefined ? [] : [v];
    if (o.type === 'string' && list.some((x) => x === '' || (typeof x === 'string' && x.startsWith('--')))) {
      throw new CliError(`${spec.name}: --${name} needs a value (see vaultgate ${spec.name} --help)`);
    }
  }
  const { json: _json, help: _help, ...values } = parsed.values;
  return { values: values as Values<S>, positionals: parsed.positionals };
}
