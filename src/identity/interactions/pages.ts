// Server-rendered sign-in, second-factor and consent pages. No script, no third-party asset, one
// inline style allowed by its hash; every value is escaped. The CSP is built per page.
import { createHash } from 'node:crypto';
import { qrSvg } from './qr.js';

export function escapeHtml(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}' +
  'label,input,button{display:block;width:100%;margin:.4rem 0}input,button{padding:.5rem;box-sizing:border-box}' +
  'code{word-break:break-all}.err{color:#a00}';
const STYLE_HASH = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

/** Strict CSP: nothing loads, forms post only to us (and may be redirected on to the client). */
export function pageCsp(formTargets: string[]): string {
  return [
    "default-src 'none'",
    `style-src ${STYLE_HASH}`,
    "img-src 'none'",
    "script-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    `form-action 'self' ${formTargets.map((t) => t.replace(/[^A-Za-z0-9:/.\-[\]]/g, '')).join(' ')}`.trim(),
  ].join('; ');
}

function layout(title: string, body: string): string {
  return (
    `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<meta name="referrer" content="no-referrer"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>` +
    `<body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`
  );
}

const hidden = (fields: Record<string, string>) =>
  Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('');

const error = (message: string | undefined) => (message ? `<p class="err" role="alert">${escapeHtml(message)}</p>` : '');

export function loginPage(p: { action: string; abort: string; csrf: string; clientName: string; message?: string }): string {
  return layout(
    'Sign in',
    `<p>to continue to <strong>${escapeHtml(p.clientName)}</strong></p>${error(p.message)}
<form method="post" action="${escapeHtml(p.action)}" autocomplete="on">${hidden({ csrf: p.csrf })}
<label for="email">E-mail</label><input id="email" name="email" type="email" required autocomplete="username" maxlength="320">
<label for="password">Password</label><input id="password" name="password" type="password" required autocomplete="current-password" maxlength="1024">
<button type="submit">Sign in</button></form>
<form method="post" action="${escapeHtml(p.abort)}">${hidden({ csrf: p.csrf })}<button type="submit">Cancel</button></form>`,
  );
}

export function mfaPage(p: { action: string; csrf: string; ticket: string; message?: string }): string {
  return layout(
    'Two-step verification',
    `<p>Enter the 6-digit code from your authenticator app, or a recovery code.</p>${error(p.message)}
<form method="post" action="${escapeHtml(p.action)}">${hidden({ csrf: p.csrf, ticket: p.ticket })}
<label for="code">Code</label><input id="code" name="code" required autocomplete="one-time-code" inputmode="numeric" maxlength="64">
<button type="submit">Verify</button></form>`,
  );
}

export function enrolPage(p: { action: string; csrf: string; ticket: string; secret: string; uri: string; message?: string }): string {
  return layout(
    'Set up two-step verification',
    `<p>Your role requires a second factor. Add this account to an authenticator app
(scan or open the link, or type the key), then enter the code it shows.</p>${error(p.message)}
${qrSvg(p.uri, 'QR code of the authenticator key')}
<p><a href="${escapeHtml(p.uri)}">Open in authenticator</a></p>
<p>Key: <code id="totp-secret">${escapeHtml(p.secret)}</code></p>
<p>URI: <code id="totp-uri">${escapeHtml(p.uri)}</code></p>
<form method="post" action="${escapeHtml(p.action)}">${hidden({ csrf: p.csrf, ticket: p.ticket })}
<label for="code">Code</label><input id="code" name="code" required autocomplete="one-time-code" inputmode="numeric" maxlength="6">
<button type="submit">Confirm</button></form>`,
  );
}

export function enrolmentCodePage(p: { action: string; csrf: string; ticket: string; message?: string }): string {
  return layout(
    'Set up two-step verification',
    `<p>Your role requires a second factor. Enter the one-time enrolment code
you received from your administrator; your authenticator key is shown after it.</p>${error(p.message)}
<form method="post" action="${escapeHtml(p.action)}">${hidden({ csrf: p.csrf, ticket: p.ticket })}
<label for="enrolment_code">Enrolment code</label><input id="enrolment_code" name="enrolment_code" required autocomplete="off" maxlength="64">
<button type="submit">Continue</button></form>`,
  );
}

export function recoveryCodesPage(p: { action: string; csrf: string; ticket: string; codes: string[] }): string {
  return layout(
    'Recovery codes',
    `<p>Keep these codes somewhere safe. Each works once if you lose your authenticator.
They are shown only now.</p><ul id="recovery-codes">${p.codes.map((c) => `<li><code>${escapeHtml(c)}</code></li>`).join('')}</ul>
<form method="post" action="${escapeHtml(p.action)}">${hidden({ csrf: p.csrf, ticket: p.ticket })}<button type="submit">Continue</button></form>`,
  );
}

export interface PaymentShown {
  amount: string;
  currency: string;
  creditorAccountId: string;
  debtorAccountId: string | undefined;
}

/** A payment in plain words: how much, to whom, from where, and that it is once. */
function paymentSection(clientName: string, p: PaymentShown, ttlMinutes: number): string {
  const from = p.debtorAccountId
    ? `your account <code id="payment-debtor">${escapeHtml(p.debtorAccountId)}</code>`
    : `one of your accounts, chosen by ${escapeHtml(clientName)}`;
  return `<p><strong>${escapeHtml(clientName)}</strong> asks you to allow one payment:</p>
<dl id="payment">
<dt>Amount</dt><dd id="payment-amount"><strong>${escapeHtml(p.amount)} ${escapeHtml(p.currency)}</strong> (at most)</dd>
<dt>To</dt><dd>account <code id="payment-creditor">${escapeHtml(p.creditorAccountId)}</code></dd>
<dt>From</dt><dd>${from}</dd>
<dt>How often</dt><dd id="payment-once">Once. The consent is used up by this one payment.</dd>
<dt>Valid</dt><dd>For ${ttlMinutes} minutes; you can revoke it until it is used.</dd>
</dl>`;
}

export function consentPage(p: {
  action: string;
  abort: string;
  csrf: string;
  clientName: string;
  granted: string[];
  refused: string[];
  payment?: PaymentShown;
  paymentTtlMinutes?: number;
}): string {
  const list = (xs: string[]) => `<ul>${xs.map((s) => `<li><code>${escapeHtml(s)}</code></li>`).join('')}</ul>`;
  const payment = p.payment ? paymentSection(p.clientName, p.payment, p.paymentTtlMinutes ?? 60) : '';
  return layout(
    p.payment ? 'Allow this payment?' : 'Allow access?',
    `${payment}<p><strong>${escapeHtml(p.clientName)}</strong> asks for these permissions:</p>${list(p.granted)}
${p.refused.length ? `<p>Not available to your role (will not be granted):</p>${list(p.refused)}` : ''}
<form method="post" action="${escapeHtml(p.action)}">${hidden({ csrf: p.csrf })}<button type="submit" name="decision" value="allow">Allow</button></form>
<form method="post" action="${escapeHtml(p.abort)}">${hidden({ csrf: p.csrf })}<button type="submit">Deny</button></form>`,
  );
}

export function messagePage(title: string, message: string): string {
  return layout(title, `<p>${escapeHtml(message)}</p>`);
}
