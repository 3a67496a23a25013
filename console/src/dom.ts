// A few DOM helpers. Text always goes in as text nodes (never as HTML), so nothing the API
// returns can become markup.
type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | boolean | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

export function clear(el: Element): void {
  el.replaceChildren();
}

/** A data table: a caption, column headers with scope, one row per item. */
export function table<T>(caption: string, columns: Array<[string, (row: T) => Child]>, rows: T[], empty = 'Nothing to show.'): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty' }, `${caption}: ${empty}`);
  return h(
    'div',
    { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption },
    h(
      'table',
      {},
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, ...columns.map(([name]) => h('th', { scope: 'col' }, name)))),
      h('tbody', {}, ...rows.map((row) => h('tr', {}, ...columns.map(([, cell]) => h('td', {}, cell(row)))))),
    ),
  );
}

/**
 * A bar chart as a table: the numbers are the text, the bars are decoration (aria-hidden). Bar
 * widths are set through the CSSOM, which the page's CSP allows (no inline style attribute).
 */
export function barTable(caption: string, label: string, rows: Array<{ name: string; value: number; className?: string }>): HTMLElement {
  const max = Math.max(1, ...rows.map((r) => r.value));
  return table<(typeof rows)[number]>(
    caption,
    [
      [label, (r) => r.name],
      ['Count', (r) => r.value],
      [
        'Share',
        (r) => {
          const bar = h('span', { class: `bar ${r.className ?? ''}`, 'aria-hidden': 'true' });
          bar.style.width = `${Math.round((r.value / max) * 100)}%`;
          return h('span', { class: 'bar-track' }, bar);
        },
      ],
    ],
    rows,
  );
}

export const time = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString('en-GB', { timeZone: 'UTC' }) + ' UTC' : '—');
