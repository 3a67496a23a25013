// Before the authorization checks, the scan gives A and B objects of their own: every collection
// POST of the document is called with a body sampled from its schema (ids taken from objects
// created before, so dependent objects come in later rounds), then every list is read. What was
// created is deleted again at the end where the document has a DELETE for it.
import { callOperation, is2xx, type CheckContext } from './context.js';
import { isIdName, isItemPath, lastParam, type ObjectPool, type Owner } from './objects.js';
import { isObject, type Operation } from './openapi.js';
import { mayCall, type Principal } from './principals.js';
import { propertiesOf, requiredOf } from './schema.js';

/** Operations that sign in, end sessions or destroy things are never used to make objects. */
const NOT_A_COLLECTION = /(login|logout|sign-?in|sign-?out|token|revoke|reset|rotate|disable|delete|erase|password|session)/i;

export const isCreate = (op: Operation): boolean =>
  op.method === 'POST' && !op.path.includes('{') && op.body !== undefined && !NOT_A_COLLECTION.test(op.path);

export const isList = (op: Operation): boolean => op.method === 'GET' && !op.path.includes('{');

/** Whether every required id of the body can be filled with one of the owner's objects. */
function idsAvailable(pool: ObjectPool, owner: Owner, op: Operation): boolean {
  if (!op.body) return true;
  const props = propertiesOf(op.body);
  const used = new Set<string>();
  return requiredOf(op.body).every((name) => !isIdName(name) || pool.idFor(owner, name, props[name], used) !== undefined);
}

function createdId(res: { json: unknown; headers: Record<string, string> }): string | undefined {
  if (isObject(res.json) && typeof res.json.id === 'string') return res.json.id;
  if (isObject(res.json) && typeof res.json.id === 'number') return String(res.json.id);
  const location = res.headers.location;
  return location ? decodeURIComponent(location.split('?')[0]?.split('/').pop() ?? '') || undefined : undefined;
}

const PER_OWNER: Record<Owner, number> = { a: 2, b: 1 };

async function createFor(ctx: CheckContext, pool: ObjectPool, who: Principal, owner: Owner): Promise<void> {
  const creates = ctx.doc.operations.filter((op) => isCreate(op) && mayCall(who, op) !== false);
  const done = new Map<Operation, number>();
  for (let round = 0; round < 4; round += 1) {
    for (const op of creates) {
      if ((done.get(op) ?? 0) !== 0) continue;
      if (!idsAvailable(pool, owner, op)) continue;
      let made = 0;
      for (let i = 0; i < PER_OWNER[owner]; i += 1) {
        const { res } = await callOperation(ctx, pool, op, who, { owner });
        const id = is2xx(res.status) ? createdId(res) : undefined;
        if (!id) break;
        pool.add({ id, owner, collection: op.path, created: true });
        pool.harvest(owner, res.json);
        made += 1;
      }
      // A refused creation is not retried: its dependencies were there, something else is amiss.
      done.set(op, made === 0 ? -1 : made);
    }
  }
}

async function listFor(ctx: CheckContext, pool: ObjectPool, who: Principal, owner: Owner): Promise<void> {
  for (const op of ctx.doc.operations.filter((o) => isList(o) && mayCall(who, o) !== false)) {
    const { res } = await callOperation(ctx, pool, op, who, { owner });
    if (!is2xx(res.status)) continue;
    pool.recordList(owner, op.path, res.json);
    pool.harvest(owner, res.json);
  }
}

/** A's reads of its own objects: the answers the exposure checks judge. */
async function readBack(ctx: CheckContext, pool: ObjectPool, who: Principal): Promise<void> {
  for (const op of ctx.doc.operations.filter((o) => o.method === 'GET' && o.path.includes('{') && mayCall(who, o) !== false)) {
    const params = op.params.filter((p) => p.in === 'path');
    if (!params.every((p) => pool.pathValue('a', op, p.name) !== undefined)) continue;
    const { res } = await callOperation(ctx, pool, op, who, { owner: 'a' });
    if (is2xx(res.status)) pool.harvest('a', res.json);
  }
}

export async function seedObjects(ctx: CheckContext, pool: ObjectPool): Promise<void> {
  const { a, b } = ctx.principals;
  if (a) await createFor(ctx, pool, a, 'a');
  if (b) await createFor(ctx, pool, b, 'b');
  if (a) await listFor(ctx, pool, a, 'a');
  if (b) await listFor(ctx, pool, b, 'b');
  if (a) await readBack(ctx, pool, a);
}

/** Deletes what the scan created, newest first, where the document has a DELETE for it. */
export async function removeCreated(ctx: CheckContext, pool: ObjectPool): Promise<void> {
  const deletes = ctx.doc.operations.filter((op) => op.method === 'DELETE');
  for (const owner of ['a', 'b'] as const) {
    const who = ctx.principals[owner];
    if (!who) continue;
    for (const obj of pool.created(owner).reverse()) {
      const op = deletes.find((d) => isItemPath(d.path, obj.collection));
      if (!op || ctx.http.remaining() === 0) continue;
      const param = lastParam(op.path) as string;
      await callOperation(ctx, pool, op, who, { owner, path: { [param]: obj.id }, record: false });
    }
  }
}

/** Remembers an object a probe created by accident of success, so that it is deleted at the end too. */
export async function rememberCreated(
  ctx: CheckContext,
  owner: Owner,
  op: Operation,
  res: { status: number; json: unknown; headers: Record<string, string> },
): Promise<void> {
  if (!isCreate(op) || !is2xx(res.status)) return;
  const id = createdId(res);
  if (id) (await ctx.objects()).add({ id, owner, collection: op.path, created: true });
}
