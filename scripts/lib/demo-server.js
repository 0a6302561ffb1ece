/**
 * A small demo website on its own origin, with the snippet embedded exactly as a site owner would
 * paste it: home, a blog article, pricing, references, a white paper, and a demo-request form.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { ROOT } from './root.js';

const DEMO = join(ROOT, 'demo');
const TYPES = { '.html': 'text/html; charset=utf-8', '.pdf': 'application/pdf', '.css': 'text/css; charset=utf-8' };

export function startDemoServer({ port, siteKey, workerUrl }) {
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://demo.invalid');
      let path = normalize(decodeURIComponent(url.pathname)).replace(/^(\.\.[/\\])+/, '');
      if (path === '/' || path === '') path = '/index';
      // The demo has no icon: said with no content, not a 404 in the browser's console on every page.
      if (path === '/favicon.ico') return void res.writeHead(204).end();
      // A form posted to the demo site lands on the page it names, as a real site would.
      if (req.method === 'POST') req.resume();
      const file = join(DEMO, extname(path) ? path : `${path}.html`);
      if (!file.startsWith(DEMO)) throw Object.assign(new Error('outside'), { code: 'ENOENT' });
      let body = await readFile(file);
      const type = TYPES[extname(file)] ?? 'application/octet-stream';
      if (type.startsWith('text/html')) {
        body = body.toString('utf8').replaceAll('{{WORKER}}', workerUrl).replaceAll('{{SITE_KEY}}', siteKey);
      }
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    } catch (err) {
      res.writeHead(err?.code === 'ENOENT' ? 404 : 500, { 'content-type': 'text/plain' });
      res.end(err?.code === 'ENOENT' ? 'Not found' : 'Error');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () =>
      resolve({ close: () => new Promise((r) => server.close(() => r())) }),
    );
  });
}
