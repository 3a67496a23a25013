import { loadConfig } from '../config.js';
import { openDatabase } from '../storage/index.js';
import { SPECS } from './commands.js';
import { print, type CommandContext } from './context.js';
import { parseOptions } from './options.js';

export async function migrateCommand(args: string[], ctx: CommandContext): Promise<number> {
  parseOptions(SPECS.migrate, args);
  const config = loadConfig();
  const db = await openDatabase(config.database);
  try {
    const applied = await db.migrate();
    print(ctx, { applied }, applied.length ? `applied: ${applied.join(', ')}` : 'up to date');
    return 0;
  } finally {
    await db.close();
  }
}
