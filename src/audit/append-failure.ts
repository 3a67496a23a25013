// What happens to an audit event that could not be written outside a money transaction (a
// refusal, a proxied write, a reload): counted and logged, never thrown at the request it is about.
import type { Logger } from 'pino';

export function auditAppendFailureHandler(deps: { counter: { inc(): void }; logger: Logger }) {
  return (err: unknown, action: string): void => {
    deps.counter.inc();
    deps.logger.warn({ event: 'audit.append_failed', action, error: (err as Error | undefined)?.name }, 'audit event could not be written');
  };
}
