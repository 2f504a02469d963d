// A real HTTP file server on 127.0.0.1 for download tests: Range support, ETags, a counter of
// body bytes sent, and faults on demand (cut or stall after N bytes, a status code, no Range).
import http from 'node:http';
import { createHash } from 'node:crypto';

export async function startFileServer() {
  const files = new Map(); // path → Buffer
  const requests = [];
  let faults = {};
  let sent = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    requests.push({ method: req.method, path: url.pathname, range: req.headers.range ?? null, auth: req.headers.authorization ?? null });
    const f = faults.times === 0 ? {} : faults;
    if (faults.times > 0) faults.times -= 1;
    if (f.status) return res.writeHead(f.status).end();
    const body = files.get(url.pathname);
    if (!body) return res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    const etag = `"${createHash('sha1').update(body.subarray(0, 65536)).digest('hex').slice(0, 16)}-${body.length}"`;
    let start = 0;
    let end = body.length;
    let status = 200;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    if (m && !f.noRange && (!ifRange || ifRange === etag)) {
      start = Number(m[1]);
      end = m[2] ? Math.min(Number(m[2]) + 1, body.length) : body.length;
      if (start >= end) return res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      status = 206;
    }
    const headers = { 'content-length': f.announceLength ?? end - start, etag };
    if (!f.noRange) headers['accept-ranges'] = 'bytes';
    if (status === 206) headers['content-range'] = `bytes ${start}-${end - 1}/${body.length}`;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') return res.end();
    let pos = start;
    const limit = (n) => (n === undefined ? Infinity : start + n);
    const pump = () => {
      while (pos < end) {
        if (pos >= limit(f.cutAfter)) return res.destroy();
        if (pos >= limit(f.stallAfter)) return; // keep the connection open, send nothing
        const n = Math.min(65536, end - pos, limit(f.cutAfter) - pos, limit(f.stallAfter) - pos);
        const chunk = body.subarray(pos, pos + n);
        pos += n;
        sent += n;
        if (!res.write(chunk)) return res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: (p) => `http://127.0.0.1:${port}${p}`,
    put: (p, buf) => files.set(p, buf),
    setFaults: (f) => (faults = { ...f }),
    takeSent: () => {
      const n = sent;
      sent = 0;
      return n;
    },
    requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(resolve);
    }),
  };
}
