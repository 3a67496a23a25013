// Helpers of the follow-up suites: the CLI run from the sources, an HTTPS client bound to another
// loopback address (a second "IP"), and a FAPI sign-in that returns a DPoP-bound token.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TestServer } from '../e2e/harness.js';
import { createClient } from '../e2e/http.js';
import {
  Browser,
  REDIRECT_URI,
  authorize,
  dpopProof,
  exchangeCode,
  newDpopKey,
  par,
  pkce,
  type DpopKey,
  type FapiClient,
  type SignInUser,
} from '../fapi/fapi-client.js';

const ENTRY = path.resolve('test/users/cli-entry.ts');

/** Runs `vaultgate …` from the sources; `input` is written to its stdin (then closed). */
export function cli(args: string[], env: Record<string, string>, input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** The same server seen from another source address (Linux routes all of 127/8 to loopback). */
export function fromAddress(s: TestServer, url: string, localAddress: string): TestServer {
  const http = createClient(url, readFileSync(path.join(s.dataDir, 'dev-tls-cert.pem')));
  Object.assign(http.agent.options, { localAddress });
  return { ...s, url, http };
}

/** PAR → authorize through the sign-in pages with `user`; returns the result and the PKCE verifier. */
export async function signIn(s: TestServer, app: FapiClient, user: SignInUser, scope = 'accounts:read') {
  const { verifier, challenge } = pkce();
  const p = await par(s, app, {
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: `openid ${scope}`,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  if (p.status !== 201) throw new Error(`PAR failed: ${p.status}`);
  return { ...(await authorize(s, new Browser(s), app.clientId, p.body.request_uri, user)), verifier };
}

export async function tokenFor(s: TestServer, app: FapiClient, user: SignInUser, scope: string): Promise<{ token: string; dpop: DpopKey }> {
  const r = await signIn(s, app, user, scope);
  if (!r.code) throw new Error(`sign-in ended at ${r.location}`);
  const dpop = await newDpopKey();
  const res = await exchangeCode(s, app, r.code, r.verifier, dpop);
  if (res.status !== 200) throw new Error(`token: ${res.status}`);
  return { token: res.body.access_token as string, dpop };
}

export async function apiCall(s: TestServer, path: string, t: { token: string; dpop: DpopKey }) {
  return s.http.call(path, {
    headers: { authorization: `DPoP ${t.token}`, dpop: await dpopProof(t.dpop, 'GET', `${s.url}${path.split('?')[0]}`, t.token) },
  });
}

/** The alert text of the last page of a refused sign-in. */
export const pageMessage = (r: { pages: string[] }) => /role="alert">([^<]+)</.exec(r.pages.at(-1) ?? '')?.[1];

/** Every row of a query as one text (BigInt columns included), to search for leaked values. */
export const dump = (rows: unknown[]) => JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
