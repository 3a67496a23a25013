// The pages' changes: a button that sends one API call through the console's server and says
// what came of it in a status line. A role without the permission sees the button disabled, with
// the permission it needs (the API would refuse it anyway: the button only saves the round trip).
import { ApiError } from './api.js';
import { h } from './dom.js';

export const failure = (err: unknown) => (err instanceof ApiError ? `Refused: ${err.message} (${err.code})` : 'Something went wrong.');

/** A status line for the outcome of a page's changes (polite: it never interrupts). */
export type StatusLine = HTMLElement & { ok(text: string): void; fail(err: unknown): void };

export function statusLine(id: string): StatusLine {
  const p = h('p', { role: 'status', id, class: 'outcome' });
  return Object.assign(p, {
    ok(text: string) {
      p.className = 'outcome ok';
      p.textContent = text;
    },
    fail(err: unknown) {
      p.className = 'outcome error';
      p.textContent = failure(err);
    },
  });
}

/**
 * A button for one change. Without `allowed` (the permission), it is disabled with the permission
 * it needs in its title and in text for screen readers; `off` disables it for another reason
 * (the thing is in no state for it). `run` gets the button back enabled when it throws.
 */
export function actionButton(
  text: string,
  opts: { label?: string; allowed: boolean; needs: string; className?: string; off?: boolean },
  run: () => Promise<void>,
  onError: (err: unknown) => void,
): HTMLButtonElement {
  const b = h('button', {
    type: 'button',
    class: opts.className ?? 'small',
    'aria-label': opts.label,
    disabled: !opts.allowed || opts.off === true,
    title: opts.allowed ? undefined : `Needs ${opts.needs}`,
  });
  b.append(text);
  if (!opts.allowed) b.append(h('span', { class: 'visually-hidden' }, ` (needs ${opts.needs})`));
  b.addEventListener('click', () => {
    b.disabled = true;
    run().catch((err: unknown) => {
      b.disabled = false;
      onError(err);
    });
  });
  return b;
}

/** A note that the role cannot make this page's changes, and which permission it would need. */
export const readOnlyNote = (role: string, needs: string, what: string) =>
  h('p', { class: 'notice' }, `Your role (${role}) can read this page but not ${what}: that needs the ${needs} permission.`);

/** The API's 403 `forbidden` for the platform's own resources, said as such. */
export const platformOnly = (what: string) =>
  h(
    'p',
    { class: 'notice', id: 'platform-only' },
    `${what} are the platform’s: only the platform tenant’s administrators see them (platform only).`,
  );

/** A change that asks first: the button reveals a confirm step (what will happen, Confirm, Cancel). */
export function confirmed(
  text: string,
  opts: { id?: string; label?: string; allowed: boolean; needs: string; warning: string; confirmLabel: string },
  run: () => Promise<void>,
  onError: (err: unknown) => void,
): HTMLElement {
  const start = h(
    'button',
    {
      type: 'button',
      id: opts.id,
      'aria-label': opts.label,
      disabled: !opts.allowed,
      title: opts.allowed ? undefined : `Needs ${opts.needs}`,
    },
    text,
  );
  const confirm = h('button', { type: 'button', class: 'danger' }, opts.confirmLabel);
  const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
  const step = h(
    'div',
    { class: 'confirm', role: 'group', 'aria-label': `Confirm: ${opts.label ?? text}`, hidden: true },
    h('p', {}, opts.warning),
    confirm,
    ' ',
    cancel,
  );
  start.addEventListener('click', () => {
    step.hidden = false;
    start.hidden = true;
    confirm.focus();
  });
  cancel.addEventListener('click', () => {
    step.hidden = true;
    start.hidden = false;
    start.focus();
  });
  confirm.addEventListener('click', () => {
    confirm.disabled = cancel.disabled = true;
    run()
      .catch((err: unknown) => onError(err))
      .finally(() => {
        confirm.disabled = cancel.disabled = false;
        step.hidden = true;
        start.hidden = false;
      });
  });
  return h('div', { class: 'action' }, start, step);
}
