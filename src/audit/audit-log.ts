// The append-only, hash-chained audit log, on both engines. Written inside the caller's transaction
// when given one: the event commits or rolls back with the change it describes.
// - SQLite: each append chains at once (seq, prev_hash, hash) under the head; its write
//   transaction already holds the database's one write lock, so this costs no concurrency.
// - PostgreSQL: the transaction writes its event to audit_pending and locks nothing shared; the
//   sealer (sealer.ts) chains committed events right after their commit, before the caller's
//   transaction() resolves, so a caller sees its event chained; events of a crashed process are
//   sealed by the next periodic seal. Chaining in the transaction would make every commit in the
//   platform wait for the one head row, held through each fsync (issue 13).
// Periodic checkpoints sign the head with the audit key (truncation evidence).
import type { Logger } from 'pino';
import { newId } from '../lib/ids.js';
import type { PlatformSecrets } from '../crypto/platform-secrets.js';
import type { Database, Sql } from '../storage/types.js';
import { isAuditAction, isWellFormedAction } from './actions.js';
import { loadAuditKey, type AuditKey } from './audit-key.js';
import { canonicalJson, checkpointMessage, eventHash, type ChainFields } from './chain.js';
import type { AuditEvent, AuditEventInput, AuditLog } from './types.js';
import { verifyChain, type VerifyResult } from './verify.js';
import { recordVerification } from './verifications.js';
import { createSealer, insertPending, type PendingFields } from './sealer.js';

export interface AuditLogOptions {
  db: Database;
  secrets: PlatformSecrets;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'> | undefined;
  /** Sign a checkpoint after this many appends (default 100)… */
  checkpointEvery?: number;
  /** …or this often while the head moves (default 60 s). 0 disables the timer. */
  checkpointIntervalMs?: number;
}

export interface AuditService extends AuditLog {
  /** Called after an append outside any caller transaction has committed (the detector listens). */
  onAppended(listener: (event: AuditEvent) => void): void;
  /** PostgreSQL: before each periodic seal (every second), the age in ms of the oldest unsealed event, when there is one. */
  onUnsealed(listener: (oldestMs: number) => void): void;
  /** Signs the current head if it moved since the last checkpoint; returns what was signed. */
  checkpoint(): Promise<{ seq: number; hash: string } | undefined>;
  verify(): Promise<VerifyResult>;
  publicJwk(): Promise<AuditKey['publicJwk']>;
  /** Starts the checkpoint timer. */
  start(): void;
  stop(): Promise<void>;
}

const LIMITS = { id: 100, ip: 64, target: 200, detailKey: 40, detailValue: 200, details: 20 };

function clip(value: string | undefined, max: number): string | null {
  if (value === undefined || value === '') return null;
  return value.length > max ? value.slice(0, max) : value;
}

function detailsText(details: AuditEventInput['details']): string | null {
  if (!details) return null;
  const out: Record<string, string | number | boolean | null> = {};
  for (const [k, v] of Object.entries(details).slice(0, LIMITS.details)) {
    const key = k.slice(0, LIMITS.detailKey);
    out[key] = typeof v === 'string' ? v.slice(0, LIMITS.detailValue) : typeof v === 'number' && !Number.isFinite(v) ? null : v;
  }
  return canonicalJson(out);
}

export function toAuditEvent(f: ChainFields & { hash: string }): AuditEvent {
  return {
    seq: f.seq,
    id: f.id,
    time: f.time,
    tenantId: f.tenant_id,
    clientId: f.client_id,
    userId: f.user_id,
    ip: f.ip,
    action: f.action,
    target: f.target,
    outcome: f.outcome as AuditEvent['outcome'],
    details: f.details === null ? null : (JSON.parse(f.details) as AuditEvent['details']),
    requestId: f.request_id,
    prevHash: f.prev_hash,
    hash: f.hash,
  };
}

export function createAuditLog(options: AuditLogOptions): AuditService {
  const { db, secrets, logger } = options;
  const every = options.checkpointEvery ?? 100;
  const intervalMs = options.checkpointIntervalMs ?? 60_000;
  const listeners: Array<(e: AuditEvent) => void> = [];
  const unsealedListeners: Array<(oldestMs: number) => void> = [];
  let key: Promise<AuditKey> | undefined;
  const auditKey = () => (key ??= loadAuditKey(secrets));
  let sinceCheckpoint = 0;
  let timer: NodeJS.Timeout | undefined;
  let pendingCheckpoint: Promise<unknown> = Promise.resolve();
  const warned = new Set<string>();

  const sealer = db.engine === 'postgres' ? createSealer(db) : undefined;
  let sealTimer: NodeJS.Timeout | undefined;
  const seal = () =>
    sealer!.seal().catch((err: unknown) => {
      // The events stay pending, durable; the periodic seal takes them up.
      logger?.warn({ event: 'audit.seal_failed', error: (err as Error)?.name }, 'audit seal failed');
    });

  function pendingFields(input: AuditEventInput): PendingFields {
    return {
      id: newId('aud'),
      time: Date.now(),
      tenant_id: clip(input.tenantId, LIMITS.id),
      client_id: clip(input.clientId, LIMITS.id),
      user_id: clip(input.userId, LIMITS.id),
      ip: clip(input.ip, LIMITS.ip),
      action: input.action,
      target: clip(input.target, LIMITS.target),
      outcome: input.outcome,
      details: detailsText(input.details),
      request_id: clip(input.requestId, LIMITS.id),
    };
  }

  /** PostgreSQL: into audit_pending, sealed once tx has committed. */
  async function appendPending(tx: Sql, input: AuditEventInput): Promise<PendingFields> {
    const fields = pendingFields(input);
    await insertPending(tx, fields);
    if (tx.afterCommit) tx.afterCommit(seal);
    else await seal(); // the database handle itself: the insert has committed already
    return fields;
  }

  /** SQLite: chained at once, under the write lock the transaction holds. */
  async function append(tx: Sql, input: AuditEventInput): Promise<ChainFields & { hash: string }> {
    const head = await tx.one<{ seq: bigint; hash: string }>(`SELECT seq, hash FROM audit_chain_head WHERE id = 1 ${db.forUpdate}`);
    if (!head) throw new Error('audit chain head missing (migration 2 not applied?)');
    const fields: ChainFields = { ...pendingFields(input), seq: Number(head.seq) + 1, prev_hash: head.hash };
    const hash = eventHash(fields);
    await tx.run(
      `INSERT INTO audit_events (seq, id, time, tenant_id, client_id, user_id, ip, action, target, outcome, details, request_id, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [
        fields.seq,
        fields.id,
        fields.time,
        fields.tenant_id,
        fields.client_id,
        fields.user_id,
        fields.ip,
        fields.action,
        fields.target,
        fields.outcome,
        fields.details,
        fields.request_id,
        fields.prev_hash,
        hash,
      ],
    );
    await tx.run('UPDATE audit_chain_head SET seq = $1, hash = $2 WHERE id = 1', [fields.seq, hash]);
    return { ...fields, hash };
  }

  /** The chained event of a pending one just sealed; still unchained (seq 0) if the seal failed. */
  async function sealedEvent(fields: PendingFields): Promise<ChainFields & { hash: string }> {
    const row = await db.one<{ seq: bigint; prev_hash: string; hash: string }>(
      'SELECT seq, prev_hash, hash FROM audit_events WHERE id = $1',
      [fields.id],
    );
    return row
      ? { ...fields, seq: Number(row.seq), prev_hash: row.prev_hash, hash: row.hash }
      : { ...fields, seq: 0, prev_hash: '', hash: '' };
  }

  async function checkpoint(): Promise<{ seq: number; hash: string } | undefined> {
    const k = await auditKey();
    const head = await db.one<{ seq: bigint; hash: string }>('SELECT seq, hash FROM audit_chain_head WHERE id = 1');
    if (!head || head.seq === 0n) return undefined;
    const seq = Number(head.seq);
    const signature = k.sign(checkpointMessage(seq, head.hash));
    // Several nodes may sign the same head: the first row wins, the others are identical anyway.
    const inserted = await db.run(
      'INSERT INTO audit_checkpoints (seq, hash, signature, key_id, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (seq) DO NOTHING',
      [seq, head.hash, signature, k.kid, Date.now()],
    );
    // Logged too: shipped logs are an anchor outside the database that an intruder cannot rewrite.
    if (inserted === 1) logger?.info({ event: 'audit.checkpoint', seq, hash: head.hash, kid: k.kid, sig: signature }, 'audit checkpoint');
    return { seq, hash: head.hash };
  }

  function scheduleCheckpoint(): void {
    sinceCheckpoint = 0;
    pendingCheckpoint = pendingCheckpoint
      .then(() => checkpoint())
      .catch((err: unknown) => logger?.warn({ event: 'audit.checkpoint_failed', error: (err as Error)?.name }, 'audit checkpoint failed'));
  }

  return {
    async record(input, tx) {
      // A malformed action is a programming error. A well-formed one missing from actions.ts is
      // still recorded (an audit event must never be lost to a vocabulary lag) but flagged once.
      if (!isWellFormedAction(input.action)) throw new Error('malformed audit action');
      if (!isAuditAction(input.action) && !warned.has(input.action)) {
        warned.add(input.action);
        logger?.warn({ event: 'audit.unknown_action', action: input.action }, 'audit action missing from src/audit/actions.ts');
      }
      if (tx) {
        await (sealer ? appendPending(tx, input) : append(tx, input));
      } else {
        const stored = sealer
          ? await sealedEvent(await db.transaction((t) => appendPending(t, input)))
          : await db.transaction((t) => append(t, input));
        const event = toAuditEvent(stored);
        for (const l of listeners) {
          try {
            l(event);
          } catch {
            // a listener's failure must never fail the audited action
          }
        }
      }
      if (++sinceCheckpoint >= every) setImmediate(scheduleCheckpoint);
    },
    onAppended(listener) {
      listeners.push(listener);
    },
    onUnsealed(listener) {
      unsealedListeners.push(listener);
    },
    checkpoint,
    async verify() {
      const result = await verifyChain(db, await auditKey());
      // Remembered for the posture check; never a reason to fail the verification itself.
      if (result.ok) await recordVerification(db, result).catch(() => undefined);
      return result;
    },
    async publicJwk() {
      return (await auditKey()).publicJwk;
    },
    start() {
      if (sealer && !sealTimer) {
        // Seals what a crashed process left pending, and says when sealing falls behind.
        sealTimer = setInterval(() => {
          void sealer
            .oldestPendingAgeMs()
            .then((age) => {
              if (age <= 0) return;
              if (age > 5_000) logger?.error({ event: 'audit.unsealed', oldest_ms: age }, 'audit events wait to be sealed into the chain');
              for (const l of unsealedListeners) l(age);
            })
            .catch(() => undefined)
            .then(seal);
        }, 1_000);
        sealTimer.unref();
      }
      if (intervalMs > 0 && !timer) {
        timer = setInterval(() => {
          if (sinceCheckpoint > 0) scheduleCheckpoint();
        }, intervalMs);
        timer.unref();
      }
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      if (sealTimer) clearInterval(sealTimer);
      sealTimer = undefined;
      if (sealer) await seal();
      await pendingCheckpoint;
    },
  };
}
