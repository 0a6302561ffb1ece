/**
 * @module What a request costs in D1, in D1's own figures (`meta.rows_read`, `meta.rows_written`),
 * for `bench/cost.js`: with `D1_METERING=on`, the routes that mount `meterD1` run on a D1 binding
 * that adds up every statement's meta and answers with the sums in a `Leadscore-D1-Rows` header
 * (`read=…,written=…,roundtrips=…`) and each statement in `Leadscore-D1-Statements`. Off, which is
 * the default and the only setting for a public worker, nothing is wrapped.
 */
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env';

interface Statement {
  label: string;
  read: number;
  written: number;
}

/** What one request's statements cost; a round trip is one `run`/`all`/`raw`/`first` or one `batch`. */
export interface D1Meter {
  roundTrips: Statement[][];
}

type Meta = { rows_read?: number; rows_written?: number } | undefined;

/** `insert events`, `select leads`…: enough to tell a batch's statements apart in a header. */
function label(sql: string): string {
  // The statement's own table, not a subquery's: parenthesised parts are left out.
  let flat = sql;
  while (/\([^()]*\)/.test(flat)) flat = flat.replace(/\([^()]*\)/g, ' ');
  const verb = (/^\s*(\w+)/.exec(flat)?.[1] ?? '?').toLowerCase();
  const table = /\b(?:from|into|update)\s+["`]?(\w+)/i.exec(flat)?.[1] ?? '?';
  return `${verb} ${table}`;
}

const costOf = (sql: string, meta: Meta): Statement => ({ label: label(sql), read: meta?.rows_read ?? 0, written: meta?.rows_written ?? 0 });

/** The binding as the routes use it, each statement's meta added to `meter`. */
export function meteredD1(d1: D1Database, meter: D1Meter): D1Database {
  const unwrapped = new WeakMap<object, { stmt: D1PreparedStatement; sql: string }>();
  const one = async (sql: string, result: Promise<D1Result>) => {
    const r = await result;
    meter.roundTrips.push([costOf(sql, r.meta)]);
    return r;
  };
  const wrap = (stmt: D1PreparedStatement, sql: string): D1PreparedStatement => {
    const wrapped = {
      bind: (...values: unknown[]) => wrap(stmt.bind(...values), sql),
      run: () => one(sql, stmt.run()),
      all: () => one(sql, stmt.all()),
      first: async (column?: string) => {
        const row = (await one(sql, stmt.all())).results[0] as Record<string, unknown> | undefined;
        return row === undefined ? null : column === undefined ? row : row[column];
      },
      // D1's raw() drops the meta: the same query through all(), its rows put back in column order.
      // Rows come as objects keyed by column name, so a select naming a column twice would lose
      // one, and a column named by digits would move first: the metered routes' selects have neither.
      raw: async (options?: { columnNames?: boolean }) => {
        const { results } = await one(sql, stmt.all());
        const rows = (results as Record<string, unknown>[]).map((row) => Object.values(row));
        return options?.columnNames ? [Object.keys(results[0] ?? {}), ...rows] : rows;
      },
    };
    unwrapped.set(wrapped, { stmt, sql });
    return wrapped as unknown as D1PreparedStatement;
  };
  const prepare = (sql: string) => wrap(d1.prepare(sql), sql);
  const batch = async (stmts: D1PreparedStatement[]) => {
    const real = stmts.map((s) => unwrapped.get(s) ?? { stmt: s, sql: '?' });
    let results: D1Result[];
    try {
      results = await d1.batch(real.map((r) => r.stmt));
    } catch (err) {
      // A batch a guard refused (a write conflict) was a round trip all the same; D1 answers it with
      // an error, not the rows it read before rolling back.
      meter.roundTrips.push([{ label: 'refused batch', read: 0, written: 0 }]);
      throw err;
    }
    meter.roundTrips.push(results.map((r, i) => costOf(real[i]!.sql, r.meta)));
    return results;
  };
  return new Proxy(d1, {
    get(target, prop) {
      if (prop === 'prepare') return prepare;
      if (prop === 'batch') return batch;
      const value = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Sums and per-statement costs of a request's round trips, as the two headers spell them. */
export function meterHeaders(meter: D1Meter): Record<string, string> {
  const all = meter.roundTrips.flat();
  const sum = (k: 'read' | 'written') => all.reduce((n, s) => n + s[k], 0);
  return {
    'Leadscore-D1-Rows': `read=${sum('read')},written=${sum('written')},roundtrips=${meter.roundTrips.length}`,
    'Leadscore-D1-Statements': meter.roundTrips.map((trip) => trip.map((s) => `${s.label} ${s.read}/${s.written}`).join(', ')).join(' | '),
  };
}

/** Meters the rest of the request when `D1_METERING` is `on`; does nothing otherwise. */
export const meterD1 = createMiddleware<AppEnv>(async (c, next) => {
  if (c.env.D1_METERING !== 'on') return next();
  const meter: D1Meter = { roundTrips: [] };
  c.env = { ...c.env, DB: meteredD1(c.env.DB, meter) };
  // For what runs elsewhere on the request's behalf (a visitor's Durable Object) to add its own.
  c.set('d1Meter', meter);
  await next();
  for (const [name, value] of Object.entries(meterHeaders(meter))) c.res.headers.set(name, value);
});
