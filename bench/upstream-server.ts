// The upstream service of the gateway benchmark: plain HTTP on loopback, a small JSON answer, in
// its own process (as a company's service would be).
import { createServer } from 'node:http';

const body = JSON.stringify({ id: 'chk_1', status: 'clear', checked_at: '2026-12-03T00:00:00Z' });
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  process.stdout.write(`listening on http://127.0.0.1:${port}\n`);
});
