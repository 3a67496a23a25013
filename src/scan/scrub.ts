// Evidence goes into reports that are uploaded to CI and pasted into tickets: it must never carry
// a token, a secret or a password. Every evidence string passes through one scrubber, which
// removes the values the scan knows are secret (its own tokens and client secrets) and anything
// shaped like a credential, then bounds the length.

const REDACTED = '[redacted]';
const MAX_EVIDENCE = 600;

const PATTERNS: readonly RegExp[] = [
  // JWTs and JWS/JWE compact forms (three or five base64url parts, the first a JSON header).
  /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){1,3}/g,
  // Authorization header values of any scheme.
  /\b(Bearer|DPoP|Basic|Digest|Token)\s+[A-Za-z0-9._~+/=-]{6,}/gi,
  // PEM blocks (private keys, certificates).
  /-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(?:-----END [A-Z0-9 ]+-----|$)/g,
  // Password hashes.
  /\$(?:argon2(?:id|i|d)|2[aby]|scrypt|pbkdf2[-\w]*)\$[^\s"']+/g,
];

// Long opaque values (API keys, secrets, HMACs): 32+ characters of base64url or hex, with both
// letters and digits (a long hyphenated header name is not a secret).
const OPAQUE = /\b[A-Za-z0-9_-]{32,}={0,2}/g;

// `"password": "…"`, `client_secret=…`, `api_key: …`: the value after a secret-looking name.
const NAMED =
  /((?:pass(?:word|wd|phrase)?|secret|client_secret|api[_-]?key|access[_-]?token|refresh[_-]?token|id[_-]?token|private[_-]?key|authorization|cookie|set-cookie|dpop|otp|totp|pin|cvv|cvc)["']?\s*[:=]\s*)("(?:[^"\\]|\\.)*"|'[^']*'|(?:(?:Bearer|DPoP|Basic|Digest)\s+)?(?:\[redacted\]|[^\s,;&"'}\]]+))/gi;

/**
 * The text with every known secret and every credential-shaped value replaced by `[redacted]`,
 * cut to a readable length. `known` holds the exact values this scan holds (tokens, secrets).
 */
export function scrub(text: string, known: readonly string[] = []): string {
  let out = text;
  // Longest first, so a secret containing another is removed whole.
  for (const secret of [...known].filter((s) => s.length >= 6).sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join(REDACTED);
    // The URL-encoded and base64 forms a secret travels in (query strings, Basic credentials).
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) out = out.split(encoded).join(REDACTED);
  }
  for (const p of PATTERNS)
    out = out.replace(p, (m) => (/^(Bearer|DPoP|Basic|Digest|Token)\s/i.test(m) ? `${m.split(/\s+/)[0]} ${REDACTED}` : REDACTED));
  // After the patterns, so that `Authorization: Bearer [redacted]` goes whole.
  out = out.replace(NAMED, (_m, name: string) => `${name}${REDACTED}`);
  out = out.replace(OPAQUE, (m) => (/\d/.test(m) && /[A-Za-z]/.test(m) ? REDACTED : m));
  // Control characters would garble terminals and SARIF viewers.
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed here
  out = out.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, ' ');
  return out.length > MAX_EVIDENCE ? `${out.slice(0, MAX_EVIDENCE - 1)}…` : out;
}
