// API3:2023 Broken object property level authorization, secrets in answers. Answers are searched
// for fields named like credentials (password, secret, api_key, private_key, cvv…) with a value,
// and for values shaped like one wherever they are (password hashes, private keys, cloud keys,
// card numbers). A secret the document declares in the answer to the POST that created it is
// the "shown once" pattern (a new client's secret) and is left alone. Values never reach the report.
import { is2xx, type Check, type Observed } from '../context.js';
import { label, responseSchema } from '../openapi.js';
import { fields, undeclaredFields } from '../schema.js';
import { observedAnswers } from './common.js';

const SECRET_NAME =
  /^(password|passwd|pwd|password_?hash|hashed_?password|pass_?hash|secret|client_?secret|secret_?key|api_?key|api_?secret|private_?key|access_?token|refresh_?token|session_?token|otp_?secret|totp_?secret|mfa_?secret|ssn|social_security_number|card_?number|pan|cvv|cvc|cvv2|pin)$/i;

const SECRET_VALUE: ReadonlyArray<[RegExp, string]> = [
  [/^\$(argon2(id|i|d)|2[aby]|scrypt|pbkdf2)/, 'a password hash'],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'a private key'],
  [/^(AKIA|ASIA)[0-9A-Z]{16}$/, 'a cloud access key id'],
];

/** 13 to 19 digits that pass the Luhn check: a card number (PAN). */
function isCardNumber(value: string): boolean {
  if (!/^[0-9]{13,19}$/.test(value)) return false;
  let sum = 0;
  for (let i = 0; i < value.length; i += 1) {
    let d = Number(value[value.length - 1 - i]);
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

const hasValue = (v: unknown): boolean =>
  (typeof v === 'string' && v !== '' && !/^[*•x#]+$/i.test(v) && !/^\[?redacted\]?$/i.test(v)) || (typeof v === 'number' && v !== 0);

function secretsIn(o: Observed): string[] {
  const out: string[] = [];
  // Shown once: a secret the document declares in the answer to the POST that made it.
  const declaredOnce = o.op.method === 'POST' ? new Set(fieldsDeclared(o)) : new Set<string>();
  for (const [path, key, value] of fields(o.res.json)) {
    if (declaredOnce.has(path)) continue;
    if (SECRET_NAME.test(key) && hasValue(value)) out.push(`${path} (named like a secret)`);
    else if (typeof value === 'string') {
      const shape = SECRET_VALUE.find(([re]) => re.test(value));
      if (shape) out.push(`${path} (${shape[1]})`);
      else if (isCardNumber(value) && !/(^|_)(id|amount|number_of|count)/i.test(key)) out.push(`${path} (a card number)`);
    }
  }
  return [...new Set(out)];
}

/** The paths of the answer that the document declares (all of them minus the undeclared ones). */
function fieldsDeclared(o: Observed): string[] {
  const undeclared = new Set(undeclaredFields(o.res.json, responseSchema(o.op, o.res.status)));
  return [...fields(o.res.json)].map(([p]) => p).filter((p) => !undeclared.has(p));
}

export const secretExposure: Check = {
  id: 'secret-exposure',
  title: 'Secrets and card data in answers',
  owasp: 'API3:2023',
  severity: 'high',
  remediation:
    'Never return credentials, password hashes, keys or full card numbers: drop them from response schemas (show a secret once, at creation, if at all), mask card numbers to the last four digits.',
  async run(ctx) {
    const answers = (await observedAnswers(ctx)).filter((o) => is2xx(o.res.status) && o.res.json !== undefined);
    for (const o of answers) {
      const found = secretsIn(o);
      if (found.length === 0) continue;
      ctx.report({
        method: o.op.method,
        path: o.op.path,
        evidence: `${label(o.op)} → ${o.res.status} answers ${found.slice(0, 5).join(', ')}`,
      });
    }
    return new Set(answers.map((o) => o.op)).size;
  },
};
