// /docs: a server-rendered reference of the OpenAPI document. No script, no third-party asset;
// the one inline style is allowed by its hash in a strict CSP.
import { createHash } from 'node:crypto';

const STYLE = `body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#1b1f24}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
.op{margin:1rem 0;padding:.6rem .8rem;border:1px solid #e3e3e3;border-radius:6px}
.m{display:inline-block;min-width:4.5rem;font-weight:700}.perm{color:#6a3;font-family:monospace}
pre{background:#f6f8fa;padding:.6rem;overflow:auto;font-size:12px}code{font-family:ui-monospace,monospace}`;

export const DOCS_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`;

function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

interface OpenApiDoc {
  info?: { title?: string; version?: string; description?: string };
  paths?: Record<
    string,
    Record<
      string,
      { summary?: string; security?: Array<Record<string, string[]>>; requestBody?: { content?: Record<string, { schema?: unknown }> } }
    >
  >;
}

export function renderDocsPage(doc: OpenApiDoc): string {
  const sections = Object.entries(doc.paths ?? {})
    .map(([path, ops]) =>
      Object.entries(ops)
        .map(([method, op]) => {
          const perm = op.security?.[0]?.bearer?.[0];
          const body = op.requestBody?.content?.['application/json']?.schema;
          return `<div class="op"><span class="m">${esc(method.toUpperCase())}</span><code>${esc(path)}</code>
<div>${esc(op.summary ?? '')}</div>${perm ? `<div>Permission: <span class="perm">${esc(perm)}</span></div>` : ''}
${body ? `<details><summary>Request body</summary><pre>${esc(JSON.stringify(body, null, 2))}</pre></details>` : ''}</div>`;
        })
        .join('\n'),
    )
    .join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(doc.info?.title ?? 'API')} reference</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>${STYLE}</style></head><body>
<h1>${esc(doc.info?.title ?? 'API')} ${esc(doc.info?.version ?? '')}</h1><p>${esc(doc.info?.description ?? '')}</p>
<p>The machine-readable document: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
<h2>Operations</h2>${sections}</body></html>`;
}
