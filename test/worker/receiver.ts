/**
 * A real HTTP receiver for the webhook tests, started in Node by vitest's global setup: the worker
 * under test (inside workerd) POSTs to it over loopback as it would to a customer's endpoint. Each
 * path is one receiver; it verifies every signature with the `standardwebhooks` package, and can be
 * told to fail its first N requests, to answer late, or to answer with another status than 204.
 *
 *   POST /_plan/{path} {"failFirst": N, "delayMs": M, "answer": S, "secret": "whsec_…"}   set a receiver up
 *   GET  /_log/{path}                                                        what it received
 */
import { createServer, type Server } from 'node:http';
import type { TestProject } from 'vitest/node';
import { Webhook } from 'standardwebhooks';

interface Received {
  id: string;
  timestamp: string;
  verified: boolean;
  answered: number;
  body: unknown;
}
interface Plan {
  failFirst: number;
  delayMs: number;
  /** The status of the requests after the first `failFirst` (204). */
  answer?: number;
  secret?: string;
  seen: number;
  log: Received[];
}

declare module 'vitest' {
  export interface ProvidedContext {
    receiverUrl: string;
  }
}

let server: Server;

export default async function setup(project: TestProject) {
  const plans = new Map<string, Plan>();
  const planOf = (path: string) => {
    let p = plans.get(path);
    if (!p) plans.set(path, (p = { failFirst: 0, delayMs: 0, seen: 0, log: [] }));
    return p;
  };
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (url.pathname.startsWith('/_plan/')) {
        const p = planOf(url.pathname.slice('/_plan'.length));
        Object.assign(p, JSON.parse(body || '{}'));
        return json(200, { ok: true });
      }
      if (url.pathname.startsWith('/_log/')) return json(200, planOf(url.pathname.slice('/_log'.length)).log);
      const p = planOf(url.pathname);
      const n = ++p.seen;
      const headers = {
        'webhook-id': String(req.headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
      };
      let verified = false;
      try {
        if (p.secret) new Webhook(p.secret).verify(body, headers);
        verified = !!p.secret;
      } catch {}
      const answered = n <= p.failFirst ? 503 : (p.answer ?? 204);
      setTimeout(() => {
        // Logged when answered: a request that timed out on the sender's side still shows here.
        p.log.push({ id: headers['webhook-id'], timestamp: headers['webhook-timestamp'], verified, answered, body: JSON.parse(body) });
        res.writeHead(answered);
        res.end(answered === 503 ? 'not now' : '');
      }, p.delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  project.provide('receiverUrl', `http://127.0.0.1:${port}`);
  return () => new Promise<void>((r) => server.close(() => r()));
}
