// Reloads the gateway section of VAULTGATE_CONFIG on SIGHUP and when the file changes
// (docs/contract.md §6). The new table goes through the same checks as at start; a file with a
// mistake is refused with one log line and a `gateway.reload_failed` audit event, and the table in
// force stays. Only the `gateway` section reloads: the other sections need a restart, and so does
// a scope that a new route names for the first time (the authorization server's scope list is fixed
// when it starts), which the reload says.
import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { AUDIT_ACTIONS, type AuditAction } from '../../audit/actions.js';
import type { AuditLog } from '../../audit/types.js';
import { gatewayScopes, type GatewaySettings } from './config.js';
import type { UpstreamGateway } from './gateway.js';

export type ReloadTrigger = 'signal' | 'file';

export type ReloadOutcome =
  | { readonly ok: true; readonly generation: number; readonly scopesNeedingRestart: readonly string[] }
  | { readonly ok: false; readonly reasons: readonly string[] };

export interface GatewayReloader {
  reload(trigger: ReloadTrigger): Promise<ReloadOutcome>;
  close(): void;
}

export interface ReloaderDeps {
  file: string;
  /** Reads and checks the gateway section (config.ts loadGatewayConfig); throws with one line per mistake. */
  load(file: string): GatewaySettings;
  gateway: UpstreamGateway;
  /** The scopes the authorization server was started with. */
  knownScopes: readonly string[];
  audit: AuditLog;
  onAuditFailure(err: unknown, action: string): void;
  logger: Logger;
  /** Reload on SIGHUP (the `start` command; not a server embedded in a test process). */
  signals: boolean;
}

/** Editors write a file in several steps (truncate, write; or a rename): one reload after they settle. */
const SETTLE_MS = 200;
// A refusal's reasons name files and keys, never values; bounded so one audit event stays small.
const MAX_REASONS = 20;

const digest = (file: string) => {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return undefined;
  }
};

export function createGatewayReloader(deps: ReloaderDeps): GatewayReloader {
  let lastDigest = digest(deps.file);
  let running: Promise<ReloadOutcome> = Promise.resolve({
    ok: true,
    generation: deps.gateway.current().generation,
    scopesNeedingRestart: [],
  });

  function record(action: AuditAction, outcome: 'success' | 'failure', details: Record<string, string | number>) {
    void deps.audit.record({ action, outcome, details }).catch((err: unknown) => deps.onAuditFailure(err, action));
  }

  function apply(trigger: ReloadTrigger): ReloadOutcome {
    lastDigest = digest(deps.file);
    let settings: GatewaySettings;
    try {
      settings = deps.load(deps.file);
    } catch (err) {
      const reasons = String((err as Error).message)
        .split('\n')
        .slice(0, MAX_REASONS)
        .map((line) => line.slice(0, 300));
      deps.logger.error(
        { event: AUDIT_ACTIONS.gatewayReloadFailed, trigger, reasons },
        'gateway reload refused; the route table in force is unchanged',
      );
      record(AUDIT_ACTIONS.gatewayReloadFailed, 'failure', { trigger, reasons: reasons.join('\n') });
      return { ok: false, reasons };
    }
    const table = deps.gateway.replace(settings);
    const scopesNeedingRestart = gatewayScopes(settings).filter((s) => !deps.knownScopes.includes(s));
    const summary = {
      trigger,
      generation: table.generation,
      routes: settings.routes.length,
      upstreams: Object.keys(settings.upstreams).length,
    };
    deps.logger.info(
      { event: AUDIT_ACTIONS.gatewayReloaded, ...summary, scopes_needing_restart: scopesNeedingRestart },
      'gateway reloaded',
    );
    if (scopesNeedingRestart.length > 0) {
      deps.logger.warn(
        { event: 'gateway.scopes_need_restart', scopes: scopesNeedingRestart },
        'new route scopes can be granted only after a restart; until then their routes refuse every token',
      );
    }
    record(AUDIT_ACTIONS.gatewayReloaded, 'success', { ...summary, scopes_needing_restart: scopesNeedingRestart.join(' ') });
    return { ok: true, generation: table.generation, scopesNeedingRestart };
  }

  // One reload at a time, in the order asked.
  const reload = (trigger: ReloadTrigger) => (running = running.then(() => apply(trigger)));

  let timer: NodeJS.Timeout | undefined;
  // The directory is watched, not the file: an editor that saves by renaming a new file over the
  // old one would leave a watch on the file looking at the old inode.
  const name = path.basename(deps.file);
  const watcher: FSWatcher | undefined = (() => {
    try {
      return watch(path.dirname(deps.file), (_event, changed) => {
        if (changed !== null && changed.toString() !== name) return;
        clearTimeout(timer);
        timer = setTimeout(() => {
          // A touch, or a write of the same bytes, is not a change.
          if (digest(deps.file) !== lastDigest) void reload('file');
        }, SETTLE_MS);
      });
    } catch (err) {
      deps.logger.warn({ event: 'gateway.watch_failed', error: (err as Error).name }, 'config file not watched; reload with SIGHUP');
      return undefined;
    }
  })();
  watcher?.unref();

  const onSignal = () => void reload('signal');
  if (deps.signals) process.on('SIGHUP', onSignal);

  return {
    reload,
    close() {
      clearTimeout(timer);
      watcher?.close();
      if (deps.signals) process.off('SIGHUP', onSignal);
    },
  };
}
