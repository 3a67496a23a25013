import { loadConfig } from '../config.js';
import { openDatabase } from '../storage/index.js';
import { print, type CommandContext } from './context.js';

export async function migrateCommand(_args: string[], ctx: CommandContext): Promise<number> {
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
