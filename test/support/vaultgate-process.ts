// vaultgate as a process of its own (bin/vaultgate.js start), for the tests that kill it with
// SIGKILL: its URL once it listens, and the child to kill.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { createClient } from '../e2e/http.js';
import { BIN } from './cli.js';

export function startNode(env: NodeJS.ProcessEnv): { child: ChildProcess; url: Promise<string> } {
  const child = spawn(process.execPath, [BIN, 'start'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  const url = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (c) => {
      out += String(c);
      const m = /listening on (https:\/\/\S+)/.exec(out);
      if (m) resolve(m[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening`)));
  });
  return { child, url };
}

/** Resolves once the child has exited (at once if it already has). */
export function exitOf(child: ChildProcess): Promise<unknown> {
  return new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));
}

/** Rate limits lifted: a storm test measures the ledger, not the limiter. */
export const UNLIMITED_CONFIG = (() => {
  const huge = '{ limit: 1000000000, window_seconds: 60 }';
  return `rate_limits:\n  ip: ${huge}\n  tiers:\n    default: { read: ${huge}, write: ${huge}, money: ${huge} }\n  shedding: { max_event_loop_delay_ms: 60000 }\n`;
})();

/** The environment of a node process on `databaseUrl`, its data in `dataDir`, with `configYaml` as VAULTGATE_CONFIG. */
export function nodeEnv(dataDir: string, databaseUrl: string, configYaml: string): NodeJS.ProcessEnv {
  const config = path.join(dataDir, 'config.yaml');
  writeFileSync(config, configYaml);
  return {
    ...process.env,
    VAULTGATE_DATA_DIR: dataDir,
    VAULTGATE_PORT: '0',
    DATABASE_URL: databaseUrl,
    VAULTGATE_LOG_LEVEL: 'warn',
    VAULTGATE_CONFIG: config,
  };
}

export interface CliClient {
  client_id: string;
  client_secret: string;
  tenant_id: string;
}

/** A service client registered through the CLI (another process), as an operator would. */
export async function cliClient(env: NodeJS.ProcessEnv, tenant: string, scopes: string): Promise<CliClient> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [BIN, 'clients', 'create', '--tenant', tenant, '--name', 'test', '--scopes', scopes, '--json'],
    { env },
  );
  return JSON.parse(stdout) as CliClient;
}

/** A client-credentials access token from the node behind `http`. */
export async function clientToken(http: ReturnType<typeof createClient>, client: CliClient, scopes: string): Promise<string> {
  const res = await http.call('/oauth/token', {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: scopes }).toString(),
  });
  return res.body.access_token as string;
}
