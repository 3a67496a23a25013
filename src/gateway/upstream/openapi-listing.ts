// The proxied operations in vaultgate's own /openapi.json (docs/contract.md §6): every operation of
// a route's upstream document, at the path a caller uses (the route's prefix in front when it is
// stripped), with the route's scope as its security requirement. The upstream's components are
// copied under a name of their own (kyc.Check), and its references rewritten to them, so two
// services' `Error` schemas never collide with each other or with vaultgate's. A 3.0 document's
// schemas are rewritten into 3.1's dialect (nullable, boolean exclusive bounds), since the listing
// is a 3.1 document.
import type { GatewaySettings, UpstreamRouteSettings } from './config.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

const OPERATION_KEYS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'];
const COMPONENT_SECTIONS = ['schemas', 'parameters', 'requestBodies', 'responses', 'headers', 'examples'];
const READS = new Set(['get', 'head']);

/** A deep copy with local component references renamed into the namespace, and 3.0 schemas made 3.1. */
function rewrite(node: unknown, namespace: string, from30: boolean): unknown {
  if (Array.isArray(node)) return node.map((v) => rewrite(v, namespace, from30));
  if (!isObject(node)) return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) out[k] = rewrite(v, namespace, from30);
  if (typeof out.$ref === 'string') {
    const m = /^#\/components\/([^/]+)\/(.+)$/.exec(out.$ref);
    if (m !== null) out.$ref = `#/components/${m[1]}/${namespace}.${m[2]}`;
  }
  if (from30) {
    if (out.nullable === true) {
      if (typeof out.type === 'string') out.type = [out.type, 'null'];
      delete out.nullable;
    }
    for (const [bound, exclusive] of [
      ['minimum', 'exclusiveMinimum'],
      ['maximum', 'exclusiveMaximum'],
    ] as const) {
      if (out[exclusive] === true && typeof out[bound] === 'number') {
        out[exclusive] = out[bound];
        delete out[bound];
      } else if (out[exclusive] === false) delete out[exclusive];
    }
  }
  return out;
}

function namespaces(routes: readonly UpstreamRouteSettings[]): Map<UpstreamRouteSettings, string> {
  const out = new Map<UpstreamRouteSettings, string>();
  const used = new Set<string>();
  routes.forEach((route, i) => {
    if (route.openapi === undefined) return;
    const name = used.has(route.upstream) ? `${route.upstream}-${i}` : route.upstream;
    used.add(name);
    out.set(route, name);
  });
  return out;
}

/** vaultgate's document with the proxied operations added; `base` is not modified. */
export function withUpstreamOperations(base: Json, gateway: GatewaySettings, scopes: readonly string[]): Json {
  const doc = structuredClone(base);
  const paths = (doc.paths ??= {}) as Json;
  const components = (doc.components ??= {}) as Json;
  for (const [route, namespace] of namespaces(gateway.routes)) {
    const { api } = route.openapi!;
    const from30 = api.version === '3.0';
    const upstreamPaths = isObject(api.document.paths) ? api.document.paths : {};
    for (const [template, item] of Object.entries(upstreamPaths)) {
      if (!isObject(item)) continue;
      if (!route.stripPrefix && !template.startsWith(route.prefix)) continue; // no caller can reach it
      const publicPath = route.stripPrefix ? `${route.prefix.slice(0, -1)}${template}` : template;
      const listed: Json = {};
      if (item.parameters !== undefined) listed.parameters = rewrite(item.parameters, namespace, from30);
      for (const key of OPERATION_KEYS) {
        const op = item[key];
        if (!isObject(op) || !route.methods.includes(key.toUpperCase() as never)) continue;
        const permission = READS.has(key) ? route.permission : route.writePermission;
        const copy = rewrite(op, namespace, from30) as Json;
        if (typeof copy.operationId === 'string') copy.operationId = `${namespace}.${copy.operationId}`;
        copy.tags = [route.upstream];
        copy.security = permission === 'public' ? [] : [{ bearer: [permission] }];
        listed[key] = copy;
      }
      if (Object.keys(listed).some((k) => OPERATION_KEYS.includes(k))) paths[publicPath] = listed;
    }
    const own = isObject(api.document.components) ? api.document.components : {};
    for (const section of COMPONENT_SECTIONS) {
      const entries = own[section];
      if (!isObject(entries)) continue;
      const target = (components[section] ??= {}) as Json;
      for (const [name, value] of Object.entries(entries)) target[`${namespace}.${name}`] = rewrite(value, namespace, from30);
    }
  }
  // The routes' scopes next to vaultgate's in the token endpoint's list.
  const flows = (components.securitySchemes as Json | undefined)?.bearer as Json | undefined;
  const granted = ((flows?.flows as Json | undefined)?.clientCredentials as Json | undefined)?.scopes as Json | undefined;
  if (granted !== undefined) for (const scope of scopes) granted[scope] ??= scope;
  return doc;
}
