// `vaultgate compliance`: the control matrix of issue 12 (item 8), built from the `// @control`
// annotations of the test suite shipped with the package. Exit 1 when a control has no test or an
// annotation names an unknown control, so CI stops on a claim nothing proves.
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildMatrix } from '../compliance/matrix.js';
import { renderJson, renderMarkdown } from '../compliance/render.js';
import { SPECS } from './commands.js';
import { CliError, type CommandContext } from './context.js';
import { parseOptions } from './options.js';

const FORMATS = ['markdown', 'json'] as const;

export async function complianceCommand(args: string[], ctx: CommandContext): Promise<number> {
  const { values } = parseOptions(SPECS.compliance, args);
  const format = values.format ?? (ctx.json ? 'json' : 'markdown');
  if (!(FORMATS as readonly string[]).includes(format)) throw new CliError(`--format must be one of ${FORMATS.join(', ')}`);
  if (ctx.json && format !== 'json') throw new CliError('--json is --format json: give one or the other');
  const root = fileURLToPath(new URL('../../', import.meta.url));
  if (!existsSync(`${root}test`))
    throw new CliError(`no test suite at ${root}test: the matrix is read from it (run from a clone of vaultgate)`);
  const matrix = buildMatrix(root);
  const text = format === 'json' ? renderJson(matrix) : renderMarkdown(matrix);
  if (values.out !== undefined) writeFileSync(values.out, text);
  else process.stdout.write(text);
  for (const u of matrix.unknown)
    process.stderr.write(`${u.file}: @control ${u.id} is not a control of src/compliance/controls.ts ("${u.title}")\n`);
  if (matrix.unproved.length > 0) process.stderr.write(`controls with no test: ${matrix.unproved.join(', ')}\n`);
  return matrix.unproved.length > 0 || matrix.unknown.length > 0 ? 1 : 0;
}
