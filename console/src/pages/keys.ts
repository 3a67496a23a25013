// Keys: the key-encryption key ring (each version, its status and how many data keys it still
// wraps) and the receipt signing keys, with rotation behind a confirm step. The keys are the
// platform's: the API answers only the platform tenant's administrators (admin:keys); any other
// tenant's page says "platform only". Never key material, only versions and ids.
import { ApiError, get, post, type KeyRotation, type KeyStatus, type SessionInfo } from '../api.js';
import { confirmed, platformOnly, readOnlyNote, statusLine } from '../actions.js';
import { h, table, time } from '../dom.js';

export async function renderKeys(main: HTMLElement, session: SessionInfo): Promise<void> {
  let status: KeyStatus;
  try {
    status = await get<KeyStatus>('/v1/admin/keys');
  } catch (err) {
    if (err instanceof ApiError && err.status === 403 && err.code === 'forbidden') {
      main.append(platformOnly('Keys'));
      return;
    }
    throw err;
  }
  const canRotate = session.scopes.includes('admin:keys');
  const outcome = statusLine('keys-outcome');
  const body = h('div', { id: 'key-status' });

  function show(s: KeyStatus) {
    body.replaceChildren(
      h(
        'dl',
        { class: 'stats' },
        h(
          'div',
          {},
          h('dt', {}, 'Active key-encryption key'),
          h('dd', { id: 'active-version' }, s.active_version === null ? '—' : `v${s.active_version}`),
        ),
        h('div', {}, h('dt', {}, 'Provider'), h('dd', { class: 'long' }, s.provider)),
        h('div', {}, h('dt', {}, 'Data keys destroyed by erasure'), h('dd', {}, s.destroyed_data_keys)),
      ),
      table<KeyStatus['versions'][number]>(
        'Key-encryption key versions',
        [
          ['Version', (v) => `v${v.version}`],
          ['Status', (v) => v.status],
          ['Source', (v) => v.source],
          ['Data keys it wraps', (v) => v.data_keys],
          ['Created', (v) => time(v.created_at)],
          ['Retired', (v) => time(v.retired_at)],
        ],
        [...s.versions].sort((a, b) => b.version - a.version),
      ),
      table<KeyStatus['receipt_keys'][number]>(
        'Receipt signing keys (published at /.well-known/receipt-keys)',
        [
          ['Key id', (k) => h('code', {}, k.kid)],
          ['In use', (k) => (k.current ? 'signing new receipts' : 'verifies earlier receipts')],
        ],
        s.receipt_keys,
        'receipts are not enabled.',
      ),
    );
  }
  show(status);
  const reload = async () => show(await get<KeyStatus>('/v1/admin/keys'));

  main.append(
    ...(canRotate ? [] : [readOnlyNote(session.role, 'admin:keys', 'rotate keys')]),
    outcome,
    body,
    h('h2', {}, 'Rotate'),
    confirmed(
      'Rotate the key-encryption key',
      {
        id: 'rotate-kek',
        allowed: canRotate,
        needs: 'admin:keys',
        confirmLabel: 'Confirm rotation',
        warning:
          'A new key-encryption key version becomes active, every data key is re-wrapped with it online, and the earlier versions are retired. The rotation is audited.',
      },
      async () => {
        const r = await post<KeyRotation>('/v1/admin/keys/rotate');
        outcome.ok(`Rotated: v${r.new_version} is active; ${r.rewrapped} data keys re-wrapped in ${r.duration_ms} ms.`);
        await reload();
      },
      (err) => outcome.fail(err),
    ),
    confirmed(
      'Rotate the receipt signing key',
      {
        id: 'rotate-receipt',
        allowed: canRotate && status.receipt_keys.length > 0,
        needs: 'admin:keys',
        confirmLabel: 'Confirm receipt key rotation',
        warning: 'New receipts are signed with a new key; the earlier keys stay published so old receipts still verify.',
      },
      async () => {
        const r = await post<{ kid: string }>('/v1/admin/keys/receipt/rotate');
        outcome.ok(`New receipt signing key ${r.kid}.`);
        await reload();
      },
      (err) => outcome.fail(err),
    ),
  );
}
