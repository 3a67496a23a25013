// API8:2023 Security misconfiguration, TRACE. A server that answers TRACE by echoing the request
// back hands a script the headers it could not read otherwise (cross-site tracing). A marker
// header of the scan coming back in the body is the proof.
import type { Check } from '../context.js';

export const traceMethod: Check = {
  id: 'trace-method',
  title: 'TRACE echoes requests',
  owasp: 'API8:2023',
  severity: 'low',
  remediation: 'Refuse TRACE (405, or 501) on every path, in the application and in any proxy in front of it.',
  async run(ctx) {
    const paths = [ctx.http.basePath || '/', ...ctx.doc.operations.slice(0, 1).map((op) => ctx.pathOf(op, {}))];
    for (const path of new Set(paths)) {
      const res = await ctx.http.send({ method: 'TRACE', url: path, headers: { 'x-vaultgate-scan': ctx.marker } });
      if (res.status >= 200 && res.status < 300 && (res.text.includes(ctx.marker) || /message\/http/i.test(res.contentType))) {
        ctx.report({ method: 'TRACE', path, evidence: `TRACE ${path} → ${res.status}, echoing the request and its headers back` });
      }
    }
    return new Set(paths).size;
  },
};
