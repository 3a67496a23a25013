// A string that matches a JSON Schema `pattern`, for the simple patterns APIs use (prefixed ids,
// codes, phone numbers). Only the structure is parsed here (atoms, groups, quantifiers); which
// characters an atom accepts is asked of the JavaScript RegExp engine itself, so classes and
// escapes mean exactly what they mean in the validator. A pattern this cannot satisfy gives undefined.

type Atom = { kind: 'chars'; chars: string[] } | { kind: 'group'; nodes: Node[] };
interface Node {
  atom: Atom;
  min: number;
  max: number;
}

const PRINTABLE = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i));

function charsMatching(source: string): string[] {
  let re: RegExp;
  try {
    re = new RegExp(`^${source}$`, 'u');
  } catch {
    return [];
  }
  return PRINTABLE.filter((c) => re.test(c));
}

class Parser {
  private i = 0;
  constructor(private readonly src: string) {}

  /** A sequence up to `)` or the end; alternatives after `|` are skipped (the first is enough). */
  sequence(): Node[] {
    const nodes: Node[] = [];
    while (this.i < this.src.length && this.src[this.i] !== ')') {
      const c = this.src[this.i] as string;
      if (c === '|') {
        this.skipAlternatives();
        break;
      }
      if (c === '^' || c === '$') {
        this.i += 1;
        continue;
      }
      const atom = this.atom();
      nodes.push({ atom, ...this.quantifier() });
    }
    return nodes;
  }

  private skipAlternatives(): void {
    let depth = 0;
    while (this.i < this.src.length) {
      const c = this.src[this.i] as string;
      if (c === '\\') this.i += 2;
      else if (c === '[') this.classBody();
      else if (c === '(') {
        depth += 1;
        this.i += 1;
      } else if (c === ')') {
        if (depth === 0) return;
        depth -= 1;
        this.i += 1;
      } else this.i += 1;
    }
  }

  private classBody(): string {
    const start = this.i;
    this.i += 1;
    if (this.src[this.i] === '^') this.i += 1;
    if (this.src[this.i] === ']') this.i += 1;
    while (this.i < this.src.length && this.src[this.i] !== ']') this.i += this.src[this.i] === '\\' ? 2 : 1;
    this.i += 1;
    return this.src.slice(start, this.i);
  }

  private atom(): Atom {
    const c = this.src[this.i] as string;
    if (c === '(') {
      this.i += 1;
      if (this.src.startsWith('?:', this.i)) this.i += 2;
      const nodes = this.sequence();
      this.i += 1; // ')'
      return { kind: 'group', nodes };
    }
    if (c === '[') return { kind: 'chars', chars: charsMatching(this.classBody()) };
    if (c === '.') {
      this.i += 1;
      return { kind: 'chars', chars: PRINTABLE };
    }
    if (c === '\\') {
      const m = /^\\(u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)/.exec(this.src.slice(this.i));
      const esc = m?.[0] ?? '\\';
      this.i += esc.length;
      return { kind: 'chars', chars: charsMatching(esc) };
    }
    this.i += 1;
    return { kind: 'chars', chars: charsMatching(c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')) };
  }

  private quantifier(): { min: number; max: number } {
    const rest = this.src.slice(this.i);
    const m = /^(?:(\*)|(\+)|(\?)|\{(\d+)(?:(,)(\d*))?\})\??/.exec(rest);
    if (!m) return { min: 1, max: 1 };
    this.i += m[0].length;
    if (m[1]) return { min: 0, max: Infinity };
    if (m[2]) return { min: 1, max: Infinity };
    if (m[3]) return { min: 0, max: 1 };
    const min = Number(m[4]);
    const max = m[5] === undefined ? min : m[6] ? Number(m[6]) : Infinity;
    return { min, max };
  }
}

function render(nodes: Node[], extra: number, pick: (chars: string[]) => string): string {
  let out = '';
  for (const n of nodes) {
    const count = Math.min(n.max, n.min + extra);
    for (let k = 0; k < count; k += 1) out += n.atom.kind === 'group' ? render(n.atom.nodes, extra, pick) : pick(n.atom.chars);
  }
  return out;
}

export interface PatternOptions {
  minLength?: number | undefined;
  maxLength?: number | undefined;
  /** Random characters instead of the first allowed one (ids that do not exist). */
  random?: boolean;
}

export function sampleForPattern(pattern: string, options: PatternOptions = {}): string | undefined {
  let re: RegExp;
  try {
    re = new RegExp(pattern, 'u');
  } catch {
    return undefined;
  }
  const nodes = new Parser(pattern).sequence();
  const pick = (chars: string[]): string => {
    if (chars.length === 0) return '';
    if (options.random) return chars[Math.floor(Math.random() * chars.length)] as string;
    // A letter or digit reads better in evidence than punctuation.
    return chars.find((c) => /[a-z0-9]/.test(c)) ?? (chars[0] as string);
  };
  const minLength = options.minLength ?? 0;
  const maxLength = options.maxLength ?? Infinity;
  for (let extra = 0; extra <= 8; extra += 1) {
    const value = render(nodes, extra, pick);
    if (value.length > maxLength) return undefined;
    if (value.length >= minLength && re.test(value)) return value;
  }
  return undefined;
}

/** The literal text a pattern requires its values to start with (`^cus_[0-9a-z]{26}$` → `cus_`). */
export function literalPrefix(pattern: string): string {
  const m = /^\^((?:[A-Za-z0-9_:/-]|\\[-_.:/])+)/.exec(pattern);
  if (!m?.[1]) return '';
  // A quantifier right after the literal applies to its last character only: leave that out.
  const next = pattern.slice((m[0] ?? '').length)[0];
  const lit = m[1].replace(/\\(.)/g, '$1');
  return next && /[*+?{]/.test(next) ? lit.slice(0, -1) : lit;
}
