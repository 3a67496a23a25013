// A vaultgate node for bench/rate-limit.ts: `none` runs without the traffic-protection steps
// (the baseline), anything else with them (REDIS_URL in the environment picks the Redis store).
import { loadConfig } from '../src/config.js';
import { startServer } from '../src/server.js';

const server = await startServer(loadConfig(process.env), {
  handleSignals: true,
  ...(process.argv[2] === 'none' ? { traffic: false as const } : {}),
});
process.stdout.write(`bench node listening on ${server.url}\n`);
