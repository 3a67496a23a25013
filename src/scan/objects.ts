// The objects a scan knows, per owner: the ones it created, the ones it saw in lists, and every id
// value it read in an answer. Probes take their path ids, query ids and body ids from here, so a
// request names a real object of the principal the probe is about.
import { isObject, type Operation, type Schema } from './openapi.js';
import { literalPrefix } from './regex-sample.js';

export type Owner = 'a' | 'b';

export interface ScanObject {
  id: string;
  owner: Owner;
  /** The collection path template it belongs to (`/v1/customers`). */
  collection: string;
  /** Created by this scan (so certainly the owner's own), not only seen in a list. */
  created: boolean;
}

export const isIdName = (name: string): boolean => name === 'id' || /(_id|Id|ID)$/.test(name) || /_ids$/.test(name);

/** `customer_id` → `customer`; `destinationAccountId` → `account`. */
function noun(name: string): string {
  const words = name
    .replace(/_?ids?$|Ids?$|IDs?$/, '')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[_-]/)
    .filter(Boolean);
  return words[words.length - 1] ?? '';
}

const singular = (s: string): string =>
  s
    .replace(/ies$/, 'y')
    .replace(/(s|x|ch|sh)es$/, '$1')
    .replace(/s$/, '');

/** The collection of a path parameter: the template up to it (`/v1/accounts/{id}/entries`, id → `/v1/accounts`). */
export function collectionOf(path: string, param: string): string | undefined {
  const at = path.indexOf(`/{${param}}`);
  return at > 0 ? path.slice(0, at) : undefined;
}

/** Whether `path` is an item of `collection` (`/v1/notes/{id}` of `/v1/notes`). */
export const isItemPath = (path: string, collection: string): boolean =>
  path.startsWith(`${collection}/{`) && /^\{[^}/]+\}$/.test(path.slice(collection.length + 1));

/** The name of the last path parameter (`/v1/notes/{id}` → `id`). */
export const lastParam = (path: string): string | undefined => /\{([^}]+)\}$/.exec(path)?.[1];

const lastLiteral = (collection: string): string =>
  collection
    .split('/')
    .filter((s) => s && !s.startsWith('{'))
    .pop() ?? '';

export class ObjectPool {
  private readonly objects: ScanObject[] = [];
  private readonly harvested: Record<Owner, Map<string, Set<string>>> = { a: new Map(), b: new Map() };

  add(obj: ScanObject): void {
    if (this.objects.some((o) => o.id === obj.id && o.owner === obj.owner && o.collection === obj.collection)) return;
    this.objects.push(obj);
  }

  all(owner?: Owner): ScanObject[] {
    return owner ? this.objects.filter((o) => o.owner === owner) : [...this.objects];
  }

  created(owner: Owner): ScanObject[] {
    return this.objects.filter((o) => o.owner === owner && o.created);
  }

  /** Ids of objects the owner created: ids no other principal may ever be shown (even if one was). */
  privateIds(owner: Owner): Set<string> {
    const other = new Set(this.created(owner === 'a' ? 'b' : 'a').map((o) => o.id));
    return new Set(
      this.created(owner)
        .map((o) => o.id)
        .filter((id) => !other.has(id)),
    );
  }

  /** Remembers every `id` / `*_id` value of an answer the owner received. */
  harvest(owner: Owner, value: unknown, depth = 0): void {
    if (depth > 8) return;
    if (Array.isArray(value)) for (const v of value.slice(0, 100)) this.harvest(owner, v, depth + 1);
    if (!isObject(value)) return;
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === 'string' && v !== '' && isIdName(k)) {
        const set = this.harvested[owner].get(k) ?? new Set<string>();
        set.add(v);
        this.harvested[owner].set(k, set);
      } else if (typeof v === 'object') this.harvest(owner, v, depth + 1);
    }
  }

  /** Whether the owner ever received this id (created, listed or read). */
  knows(owner: Owner, id: string): boolean {
    if (this.all(owner).some((o) => o.id === id)) return true;
    for (const set of this.harvested[owner].values()) if (set.has(id)) return true;
    return false;
  }

  /** Objects of a list answer (`data[]`, or a top-level array) recorded as seen in that collection. */
  recordList(owner: Owner, collection: string, value: unknown): void {
    const items = Array.isArray(value) ? value : isObject(value) ? Object.values(value).find(Array.isArray) : undefined;
    if (!Array.isArray(items)) return;
    for (const item of items.slice(0, 100)) {
      if (isObject(item) && typeof item.id === 'string') this.add({ id: item.id, owner, collection, created: false });
    }
  }

  private candidates(owner: Owner, name: string, schema: Schema | undefined, collection?: string): string[] {
    const mine = this.all(owner).sort((x, y) => Number(y.created) - Number(x.created));
    const out: string[] = [];
    if (collection) out.push(...mine.filter((o) => o.collection === collection).map((o) => o.id));
    const prefix = typeof schema?.pattern === 'string' ? literalPrefix(schema.pattern) : '';
    if (prefix.length >= 2) out.push(...mine.filter((o) => o.id.startsWith(prefix)).map((o) => o.id));
    const n = noun(name);
    if (n && name !== 'id') out.push(...mine.filter((o) => singular(lastLiteral(o.collection)) === singular(n)).map((o) => o.id));
    out.push(...(this.harvested[owner].get(name) ?? []));
    // A value that breaks the declared pattern would only earn a 400: keep those that fit.
    const re = typeof schema?.pattern === 'string' ? safeRegExp(schema.pattern) : undefined;
    return [...new Set(out)].filter((id) => !re || re.test(id));
  }

  /** An id of the owner's for a body property or query parameter, avoiding those in `used`. */
  idFor(owner: Owner, name: string, schema: Schema | undefined, used: Set<string> = new Set()): string | undefined {
    if (!isIdName(name)) return undefined;
    // Distinct ids for distinct fields when there are enough (source and destination differ).
    const all = this.candidates(owner, name, schema);
    const id = all.find((c) => !used.has(c)) ?? all[0];
    if (id) used.add(id);
    return id;
  }

  /** An id of the owner's for the path parameter `param` of `op`. */
  pathValue(owner: Owner, op: Operation, param: string): string | undefined {
    const schema = op.params.find((p) => p.in === 'path' && p.name === param)?.schema;
    return this.candidates(owner, param, schema, collectionOf(op.path, param))[0];
  }
}

function safeRegExp(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern, 'u');
  } catch {
    return undefined;
  }
}

/** An id of the same shape as `id` that does not exist: same prefix, same character classes, new characters. */
export function lookalikeId(id: string): string {
  const cut = Math.max(id.lastIndexOf('_'), id.lastIndexOf(':')) + 1;
  const head = id.slice(0, cut);
  const tail = id.slice(cut);
  const pick = (set: string) => set[Math.floor(Math.random() * set.length)] as string;
  let out = '';
  for (const c of tail) {
    if (/[0-9]/.test(c)) out += pick('0123456789');
    else if (/[a-f]/.test(c) && /^[0-9a-f-]+$/.test(tail)) out += pick('0123456789abcdef');
    else if (/[a-z]/.test(c)) out += pick('abcdefghijklmnopqrstuvwxyz');
    else if (/[A-Z]/.test(c)) out += pick('ABCDEFGHIJKLMNOPQRSTUVWXYZ');
    else out += c;
  }
  // A pure number: a bigger one, far from any real row.
  if (/^[0-9]+$/.test(tail)) out = `9${out}7`;
  return out === tail ? `${head}${tail}x` : `${head}${out}`;
}
