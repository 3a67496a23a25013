// Owner isolation (docs/contract.md §4): an end user with role `customer` sees only the customer record
// it is linked to. Everything else answers as if it did not exist.
import { AppError } from '../errors.js';
import type { Principal } from './principal.js';

/** The customer this principal is confined to, or undefined when it sees the whole tenant. */
export function confinedCustomer(principal: Principal): string | undefined {
  if (principal.role !== 'customer') return undefined;
  // A customer token without its link sees nothing: never fall back to the whole tenant.
  return principal.customerId ?? '\0none';
}

export function assertOwner(principal: Principal, customerId: string | null): void {
  const confined = confinedCustomer(principal);
  if (confined !== undefined && confined !== customerId) throw new AppError('not_found');
}
