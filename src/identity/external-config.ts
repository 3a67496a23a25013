// Environment of the optional external identity provider (docs/contract.md §2 additions):
//   VAULTGATE_EXTERNAL_ISSUER    its issuer URL (https); unset = feature off
//   VAULTGATE_EXTERNAL_AUDIENCE  the `aud` its tokens carry for us (default: VAULTGATE_PUBLIC_URL)
//   VAULTGATE_EXTERNAL_CLAIMS    claim names: "tenant=tenant,role=role,customer=customer_id" (the default)
//   VAULTGATE_EXTERNAL_CA        PEM file of CA certificates to trust for the issuer's HTTPS (private PKI)
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';

export const EXTERNAL_IDP_VARS = [
  'VAULTGATE_EXTERNAL_ISSUER',
  'VAULTGATE_EXTERNAL_AUDIENCE',
  'VAULTGATE_EXTERNAL_CLAIMS',
  'VAULTGATE_EXTERNAL_CA',
] as const;

export interface ExternalIdpSettings {
  issuer: string;
  audience: string | undefined;
  claims: { tenant: string; role: string; customer: string };
  ca: Buffer | undefined;
}

const fail = (variable: string, why: string): never => {
  throw new ConfigError(`${variable}: ${why}`);
};

export function parseExternalIdp(env: NodeJS.ProcessEnv): ExternalIdpSettings | undefined {
  const issuer = env.VAULTGATE_EXTERNAL_ISSUER;
  if (!issuer) {
    for (const v of EXTERNAL_IDP_VARS.slice(1)) if (env[v]) fail(v, 'needs VAULTGATE_EXTERNAL_ISSUER');
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return fail('VAULTGATE_EXTERNAL_ISSUER', 'is not a valid URL');
  }
  if (url.protocol !== 'https:' || url.search || url.hash || issuer.endsWith('/')) {
    fail('VAULTGATE_EXTERNAL_ISSUER', 'must be an https issuer URL without query, fragment or trailing slash');
  }
  const audience = env.VAULTGATE_EXTERNAL_AUDIENCE || undefined;
  const claims = { tenant: 'tenant', role: 'role', customer: 'customer_id' };
  if (env.VAULTGATE_EXTERNAL_CLAIMS) {
    for (const part of env.VAULTGATE_EXTERNAL_CLAIMS.split(',')) {
      const [k, v] = part.split('=').map((x) => x.trim());
      if ((k !== 'tenant' && k !== 'role' && k !== 'customer') || !v || !/^[A-Za-z0-9_.:/-]{1,100}$/.test(v)) {
        fail('VAULTGATE_EXTERNAL_CLAIMS', 'must look like tenant=CLAIM,role=CLAIM,customer=CLAIM');
      }
      claims[k as keyof typeof claims] = v as string;
    }
  }
  let ca: Buffer | undefined;
  if (env.VAULTGATE_EXTERNAL_CA) {
    try {
      ca = readFileSync(env.VAULTGATE_EXTERNAL_CA);
    } catch {
      fail('VAULTGATE_EXTERNAL_CA', `cannot read ${env.VAULTGATE_EXTERNAL_CA}`);
    }
  }
  return { issuer, audience, claims, ca };
}
