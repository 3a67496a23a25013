// Which methods a path has, for the answer to a method it does not have: 405 with `Allow`
// (RFC 9110 §15.5.6) rather than a 404 that would suggest the path itself does not exist.
// Filled from the route table as routes are registered; looked up only on a miss.
export interface AllowedMethods {
  add(method: string | string[], url: string): void;
  /** The methods registered for this concrete path, or [] if none. */
  of(pathname: string): string[];
}

function patternOf(url: string): RegExp {
  const escaped = url
    .split('/')
    .map((part) => (part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${escaped}$`);
}

export function createAllowedMethods(): AllowedMethods {
  const routes = new Map<string, { pattern: RegExp; methods: Set<string> }>(); // by route url
  return {
    add(method, url) {
      let entry = routes.get(url);
      if (!entry) routes.set(url, (entry = { pattern: patternOf(url), methods: new Set() }));
      for (const m of Array.isArray(method) ? method : [method]) entry.methods.add(m);
    },
    of(pathname) {
      const found = new Set<string>();
      for (const r of routes.values()) if (r.pattern.test(pathname)) for (const m of r.methods) found.add(m);
      return [...found].sort();
    },
  };
}
