// API2:2023 Broken authentication, guessing. Wrong client secrets are sent to the token endpoint
// (and wrong passwords to the document's login operations), one after the other, until the
// target says "slow down" (429, Retry-After, slow_down) or the probe gives up: a target that
// answered every one of them as just another wrong guess lets anyone guess forever.
import type { Check } from '../context.js';
import type { ScanResponse } from '../http.js';
import { isThrottled, isWrongGuess, loginGuess, loginOperations, tokenGuess } from './credential-guessing.js';

/** Enough for any reasonable lockout (vaultgate locks after 5), few enough to stay polite. */
export const MAX_GUESSES = 12;

async function guessUntilThrottled(
  guess: () => Promise<ScanResponse>,
  oauth: boolean,
): Promise<'throttled' | 'unlimited' | 'inconclusive'> {
  for (let i = 0; i < MAX_GUESSES; i += 1) {
    const res = await guess();
    if (isThrottled(res)) return 'throttled';
    // Anything but a refusal (an error page, no answer) says nothing about a limit.
    if (!isWrongGuess(res, oauth)) return 'inconclusive';
  }
  return 'unlimited';
}

export const authAttemptLimits: Check = {
  id: 'auth-attempt-limits',
  title: 'Token and login endpoints without attempt limits',
  owasp: 'API2:2023',
  severity: 'medium',
  remediation:
    'Limit failed authentication attempts per client id, per account and per source address (a growing lockout or 429 with Retry-After after a few failures), with the same answer whether or not the client or account exists.',
  async run(ctx) {
    let tested = 0;
    const { tokenEndpoint } = await ctx.discovery();
    if (tokenEndpoint) {
      tested += 1;
      const clientId = ctx.principals.a?.clientId ?? `vaultgate-scan-${ctx.marker}`;
      if ((await guessUntilThrottled(() => tokenGuess(ctx, tokenEndpoint, clientId), true)) === 'unlimited') {
        ctx.report({
          method: 'POST',
          path: new URL(tokenEndpoint).pathname,
          evidence: `${MAX_GUESSES} client-credentials requests in a row with wrong secrets for one client id were each refused as a wrong guess; none was throttled (no 429, no Retry-After)`,
        });
      }
    }
    for (const op of loginOperations(ctx)) {
      tested += 1;
      if ((await guessUntilThrottled(() => loginGuess(ctx, op), false)) === 'unlimited') {
        ctx.report({
          method: op.method,
          path: op.path,
          evidence: `${MAX_GUESSES} sign-ins in a row with wrong passwords for one account were each refused as a wrong guess; none was throttled (no 429, no Retry-After)`,
        });
      }
    }
    return tested;
  },
};
