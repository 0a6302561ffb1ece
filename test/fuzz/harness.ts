/**
 * The fuzz tests' referee: sends each generated request through the worker, checks its answer
 * (never a 5xx; every 4xx the project's JSON error), and proves that what was rejected wrote
 * nothing.
 *
 * Writes are seen by a log kept by SQLite itself: every table gets AFTER INSERT / UPDATE / DELETE
 * triggers that append to `fuzz_writes`, installed in this test file's own D1 (vitest gives each
 * file its own storage). Reading the log's last number after each request costs one small query,
 * so every request is checked on its own and a failure names the request, the tables and the
 * operations. A statement rolled back leaves no entry, exactly as it leaves no row. Whole-table
 * fingerprints (every row of every table, the schema too) are compared at each `checkpoint()`,
 * between which the log saw nothing: they would catch a write that no trigger can see.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import fc from 'fast-check';
import { expect, inject } from 'vitest';
import { z } from 'zod';
import worker from '../../worker/index';

declare module 'vitest' {
  export interface ProvidedContext {
    fuzzSeed: string;
  }
}

export const ORIGIN_SELF = 'https://leadscore.test';

export interface FuzzRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Built to be refused (a wrong key, a broken body…): a 2xx or 3xx is a failure. */
  mustReject?: boolean;
}

export interface Answer {
  status: number;
  contentType: string;
  text: string;
  headers: Headers;
}

/** The seed of every property: FUZZ_SEED, or a fixed one so that a run is reproducible by default. */
export function fuzzSeed(): number {
  const given = inject('fuzzSeed');
  return given ? Number(given) : 20_261_122;
}

/** The project's error shape, nothing more and nothing less (see `worker/lib/errors.ts`). */
const ErrorBody = z.strictObject({
  error: z.strictObject({
    code: z.string().regex(/^[a-z_]+$/),
    message: z.string().min(1),
    issues: z.array(z.strictObject({ path: z.array(z.union([z.string(), z.number()])), message: z.string() })).optional(),
  }),
});

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** A request that must not write whatever its answer: refused by construction, or of a safe method. */
const mustNotWrite = (req: FuzzRequest) => req.mustReject === true || SAFE_METHODS.has(req.method.toUpperCase());

/**
 * Without rate limits: thousands of requests to one site key would otherwise be answered 429 from
 * the hundredth on, and the fuzz would test the limiter instead of what lies behind it
 * (`test/worker/rate-limits.test.ts` tests the limiter).
 */
const unlimited = { ...env, RATE_LIMITS: 'off' };

/**
 * The worker's own `fetch`, called directly rather than through `exports.default.fetch`: the same
 * code, several times faster per request, and `waitOnExecutionContext` lets whatever a request
 * left running (webhook dispatch) finish before the log is read, so that its writes are counted
 * for the request that caused them.
 */
export async function send(req: FuzzRequest): Promise<Answer> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`${ORIGIN_SELF}${req.path}`, { method: req.method, headers: req.headers, body: req.body }),
    unlimited,
    ctx,
  );
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text, headers: res.headers };
}

/** Shown in a failure: enough to replay the request by hand. */
export function describeRequest(req: FuzzRequest): string {
  const body = typeof req.body === 'string' ? req.body : req.body ? `<${req.body.byteLength} bytes>` : '';
  const cut = (s: string) => (s.length > 600 ? `${s.slice(0, 600)}… (${s.length} characters)` : s);
  return `${req.method} ${cut(req.path)}\nheaders: ${cut(JSON.stringify(req.headers ?? {}))}\nbody: ${cut(JSON.stringify(body))}`;
}

async function tableNames(): Promise<{ name: string; virtual: boolean }[]> {
  const rows = (
    await env.DB.prepare(
      // D1 refuses any look at its own `_cf_` tables.
      `SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
         AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name <> 'fuzz_writes' ORDER BY name`,
    ).all<{ name: string; sql: string }>()
  ).results;
  return rows.map((r) => ({ name: r.name, virtual: /^CREATE VIRTUAL TABLE/i.test(r.sql) }));
}

export class Referee {
  requests = 0;
  readonly statuses = new Map<number, number>();
  private seq = 0;
  private fingerprintSeq = -1;
  private fingerprint: Record<string, string> = {};
  private queries: { name: string; sql: string }[] = [];
  /** Milliseconds spent answering, checking writes and round trips, and fingerprinting. */
  readonly ms = { answer: 0, log: 0, accepted: 0, fingerprint: 0 };

  /** The write log and its triggers, on every table there is (a table added later included). */
  async install(): Promise<void> {
    await env.DB.prepare('CREATE TABLE IF NOT EXISTS fuzz_writes (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, op TEXT NOT NULL)').run();
    const tables = await tableNames();
    const virtual = tables.filter((t) => t.virtual).map((t) => t.name);
    // SQLite refuses triggers on a virtual table and on its shadow tables, which only the virtual
    // table's own module writes, when a statement writes it: that statement's table has the trigger.
    const plain = tables.filter((t) => !t.virtual && !virtual.some((v) => t.name.startsWith(`${v}_`)));
    expect(plain.map((t) => t.name)).toContain('events');
    await env.DB.batch(
      plain.flatMap(({ name }) =>
        ['INSERT', 'UPDATE', 'DELETE'].map((op) =>
          env.DB.prepare(
            `CREATE TRIGGER IF NOT EXISTS "fuzz_${name}_${op}" AFTER ${op} ON "${name}"
             BEGIN INSERT INTO fuzz_writes (tbl, op) VALUES ('${name}', '${op}'); END`,
          ),
        ),
      ),
    );
    const columns = await env.DB.batch(tables.map((t) => env.DB.prepare('SELECT name FROM pragma_table_info(?)').bind(t.name)));
    this.queries = [
      { name: 'sqlite_master', sql: "SELECT group_concat(quote(type) || quote(name) || quote(sql), char(10)) AS v FROM sqlite_master WHERE name NOT LIKE 'fuzz\\_%' ESCAPE '\\'" },
      ...tables.map((t, i) => {
        const cols = (columns[i]!.results as { name: string }[]).map((c) => `quote("${c.name}")`);
        const rowid = t.virtual ? 'quote(rowid) || ' : '';
        return { name: t.name, sql: `SELECT group_concat(${rowid}${cols.join(" || ',' || ")}, char(10)) AS v FROM "${t.name}"` };
      }),
    ];
    this.seq = await this.lastWrite();
  }

  /** Every row of every table, and the schema. */
  async fingerprintNow(): Promise<Record<string, string>> {
    const results = await env.DB.batch(this.queries.map((q) => env.DB.prepare(q.sql)));
    return Object.fromEntries(this.queries.map((q, i) => [q.name, String((results[i]!.results[0] as { v: unknown }).v ?? '')]));
  }

  private async lastWrite(): Promise<number> {
    return (await env.DB.prepare('SELECT coalesce(max(seq), 0) AS n FROM fuzz_writes').first<number>('n')) ?? 0;
  }

  private async writesAfter(seq: number): Promise<string> {
    const rows = (
      await env.DB.prepare('SELECT tbl, op, count(*) AS n FROM fuzz_writes WHERE seq > ? GROUP BY tbl, op').bind(seq).all<{ tbl: string; op: string; n: number }>()
    ).results;
    return rows.map((r) => `${r.op} ${r.tbl} ×${r.n}`).join(', ');
  }

  /**
   * Sends the request and referees its answer. `accepted` runs on a 2xx (round-trip checks);
   * whatever it waits for (a recompute) is counted with the request. The write log is read after
   * the request, except after one that must not write whatever its answer (`mustNotWrite`): those
   * are read together at the next `settle()`, and named one by one only when the log moved.
   */
  async exchange(req: FuzzRequest, accepted?: (a: Answer) => Promise<void> | void): Promise<Answer> {
    if (!mustNotWrite(req)) await this.settle();
    const before = this.seq;
    let t = performance.now();
    const lap = (k: keyof Referee['ms']) => {
      const now = performance.now();
      this.ms[k] += now - t;
      t = now;
    };
    const a = await this.answer(req);
    lap('answer');
    if (a.status < 300 && accepted) await accepted(a);
    lap('accepted');
    if (mustNotWrite(req)) {
      this.unsettled.push(req);
      return a;
    }
    this.seq = await this.lastWrite();
    lap('log');
    if (this.seq !== before && (a.status >= 400 || SAFE_METHODS.has(req.method.toUpperCase()))) {
      throw new Error(`${a.status >= 400 ? 'rejected' : 'safe'} request wrote: ${await this.writesAfter(before)}\n${a.status} ${a.text.slice(0, 500)}\n${describeRequest(req)}`);
    }
    return a;
  }

  private readonly unsettled: FuzzRequest[] = [];

  private async answer(req: FuzzRequest): Promise<Answer> {
    let a: Answer;
    try {
      a = await send(req);
    } catch (err) {
      throw new Error(`the worker threw instead of answering: ${String(err)}\n${describeRequest(req)}`);
    }
    this.requests++;
    this.statuses.set(a.status, (this.statuses.get(a.status) ?? 0) + 1);
    const what = () => `${a.status} ${a.text.slice(0, 500)}\n${describeRequest(req)}`;
    expect(a.status, what()).toBeLessThan(500);
    if (req.mustReject) expect(a.status, `expected a refusal: ${what()}`).toBeGreaterThanOrEqual(400);
    if (a.status >= 400 && req.method !== 'HEAD') {
      expect(a.contentType, what()).toMatch(/^application\/json\b/);
      let body: unknown;
      try {
        body = JSON.parse(a.text);
      } catch {
        throw new Error(`a ${a.status} whose body is not JSON: ${what()}`);
      }
      const shape = ErrorBody.safeParse(body);
      expect(shape.success, `not the error shape: ${shape.error?.message}\n${what()}`).toBe(true);
    }
    return a;
  }

  /**
   * The refused requests not yet checked wrote nothing. When the log moved, each is sent again
   * alone to name the one that writes (a write that happens only once is told as the batch's).
   */
  async settle(): Promise<void> {
    if (!this.unsettled.length) return;
    const t = performance.now();
    const batch = this.unsettled.splice(0);
    const before = this.seq;
    this.seq = await this.lastWrite();
    this.ms.log += performance.now() - t;
    if (this.seq === before) return;
    const wrote = await this.writesAfter(before);
    for (const req of batch) {
      const from = this.seq;
      const a = await send(req);
      this.seq = await this.lastWrite();
      if (this.seq !== from) throw new Error(`${a.status >= 400 ? 'rejected' : 'safe'} request wrote: ${await this.writesAfter(from)}\n${a.status} ${a.text.slice(0, 500)}\n${describeRequest(req)}`);
    }
    throw new Error(`one of these ${batch.length} requests that must not write wrote (${wrote}), and none does again alone:\n${batch.map(describeRequest).join('\n---\n')}`);
  }

  /**
   * Whole-database check: when the log saw no write since the last checkpoint, every row of every
   * table (and the schema) must be as it was then; otherwise the fingerprint is taken again.
   */
  async checkpoint(): Promise<void> {
    await this.settle();
    const t = performance.now();
    try {
      if (this.seq !== this.fingerprintSeq) {
        this.fingerprint = await this.fingerprintNow();
        this.fingerprintSeq = this.seq;
        return;
      }
      const now = await this.fingerprintNow();
      const changed = Object.keys({ ...now, ...this.fingerprint }).filter((k) => now[k] !== this.fingerprint[k]);
      expect(changed, 'tables changed while the write log saw nothing').toEqual([]);
    } finally {
      this.ms.fingerprint += performance.now() - t;
    }
  }

  /** What the run did, for the log and for the count the test asserts. */
  summary(): string {
    const statuses = [...this.statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`).join(', ');
    const ms = Object.entries(this.ms).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(', ');
    return `${this.requests} requests (${statuses}); ${ms}`;
  }
}

export interface Exchange {
  req: FuzzRequest;
  accepted?: (a: Answer) => Promise<void> | void;
}

/**
 * Runs a property over sequences of requests. In each, the requests that must not write (built to
 * be refused, or of a safe method) go first and a checkpoint follows them, so that every sequence
 * compares the whole database across them; a second checkpoint after the rest takes the new
 * fingerprint.
 * FUZZ_SEED changes the sequences; a failure prints the seed and the request.
 */
export async function fuzz<T>(referee: Referee, arb: fc.Arbitrary<T[]>, numRuns: number, build: (item: T) => Exchange) {
  await referee.checkpoint();
  await fc
    .assert(
    fc.asyncProperty(arb, async (items) => {
      const all = items.map(build);
      for (const x of [...all.filter((x) => mustNotWrite(x.req)), null, ...all.filter((x) => !mustNotWrite(x.req))]) {
        if (x) await referee.exchange(x.req, x.accepted);
        else await referee.checkpoint();
      }
      await referee.checkpoint();
    }),
    // The referee names the failing request itself; shrinking would replay whole sequences against
    // a database they changed, for minutes.
    { seed: fuzzSeed(), numRuns, endOnFailure: true },
    )
    .catch((err: unknown) => {
      throw printable(err);
    });
}

/**
 * The error with every lone surrogate written as an escape: the pool sends failures to vitest
 * over a WebSocket, which refuses text that is not UTF-8, and the report would be lost.
 */
function printable(err: unknown): unknown {
  const clean = (s: string) => s.replace(/\p{Surrogate}/gu, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
  if (err instanceof Error) {
    err.message = clean(err.message);
    if (err.stack) err.stack = clean(err.stack);
    if (err.cause) err.cause = printable(err.cause);
    for (const k of ['actual', 'expected'] as const) {
      const v = (err as unknown as Record<string, unknown>)[k];
      if (v !== undefined) (err as unknown as Record<string, unknown>)[k] = clean(typeof v === 'string' ? v : JSON.stringify(v) ?? String(v));
    }
  }
  return err;
}
