// Sealed small secrets (TOTP seeds, webhook signing secrets): envelope-encrypted, bound to owner and
// field, re-wrapped by rotation, shredded with their data key.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, onTestFinished } from 'vitest';
import { DecryptionError } from '../../src/crypto/aead.js';
import { createDataKeys } from '../../src/crypto/data-keys.js';
import { rotateKek } from '../../src/crypto/key-rotation.js';
import { loadMasterKey } from '../../src/crypto/master-key.js';
import { createSecretBox } from '../../src/crypto/secret-box.js';
import { createTestDatabase, describeEngines, type TestDatabase } from '../support/databases.js';

describeEngines('secret box', (engine) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(engine);
  });
  afterAll(async () => t?.dispose());

  // @control PCI-3.5.1
  it('seals, opens, survives rotation, refuses another owner or field, and is shredded with its key', async () => {
    const keyDir = mkdtempSync(path.join(tmpdir(), 'vaultgate-sb-'));
    onTestFinished(() => rmSync(keyDir, { recursive: true, force: true }));
    const master = loadMasterKey(path.join(keyDir, 'master.key'), { create: true });
    const dataKeys = createDataKeys(master, { engine });
    const box = createSecretBox(dataKeys);
    const ref = { owner: 'users:usr_1', field: 'totp_secret' };
    const sealed = await t.db.transaction((tx) => box.seal(tx, ref, 'JBSWY3DPEHPK3PXP'));
    expect(sealed).toMatch(/^sb1\.dk_/);
    expect(sealed).not.toContain('JBSWY3DPEHPK3PXP');
    const second = await t.db.transaction((tx) => box.seal(tx, { owner: 'users:usr_1', field: 'recovery' }, 'other', sealed.split('.')[1]));
    expect(second.split('.')[1]).toBe(sealed.split('.')[1]); // same data key when asked
    await expect(box.open(t.db, ref, sealed)).resolves.toBe('JBSWY3DPEHPK3PXP');
    await expect(box.open(t.db, { owner: 'users:usr_2', field: 'totp_secret' }, sealed)).rejects.toBeInstanceOf(DecryptionError);
    await expect(box.open(t.db, { owner: 'users:usr_1', field: 'webhook_secret' }, sealed)).rejects.toBeInstanceOf(DecryptionError);
    await rotateKek(t.db, dataKeys);
    await expect(createSecretBox(createDataKeys(master)).open(t.db, ref, sealed)).resolves.toBe('JBSWY3DPEHPK3PXP');
    await t.db.transaction((tx) => box.destroy(tx, sealed));
    await expect(box.open(t.db, ref, sealed)).resolves.toBeUndefined();
  });
});
