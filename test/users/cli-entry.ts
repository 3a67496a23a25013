// Runs the CLI from the sources (the bin runs the build in dist/, which tests must not depend on).
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
