/**
 * What an attacker types: SQL and HTML payloads, prototype keys, control characters, lone
 * surrogates, huge strings, nested values; and `mutate`, which breaks one place of a valid value
 * with one of them, so that every level of a valid shape gets its turn.
 */
import fc from 'fast-check';

export const PAYLOADS = [
  "' OR '1'='1",
  "'; DROP TABLE leads; --",
  '" OR 1=1 --',
  "1' UNION SELECT hash, prefix, name FROM api_keys --",
  "') ON CONFLICT DO UPDATE SET site_id = 'x' --",
  'x%_\\',
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '"><svg onload=alert(1)>',
  'javascript:alert(1)',
  '{{constructor.constructor("alert(1)")()}}',
  '${7*7}',
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'toString',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff',
  'x\ud83dy',
  '\u202eevil',
  '\ufeff',
  '\u2028\u2029',
  '😀👩‍💻🇫🇷',
  'Ａｄｍｉｎ',
  'e\u0301',
  '..%2F..%2Fetc%2Fpasswd',
  '../../../etc/passwd',
  '%00',
  '%',
  '%ZZ',
  '\r\nSet-Cookie: x=1',
  '\\u0000',
  'NaN',
  '-0',
  '1e309',
  'null',
  'true',
  '[]',
  '{}',
  'sk_',
  'pk_',
  '',
  ' ',
  '\t\n',
];

/** Characters that break parsers, encoders and databases, one at a time. */
const NASTY_CHAR = fc.constantFrom(
  '\u0000', '\u0001', '\u001f', '\u007f', '\ud800', '\udbff', '\udc00', '\udfff', '\u202e', '\ufeff', '\uffff',
  "'", '"', '`', '\\', '<', '>', '&', '%', '_', '*', '/', '?', '#', ';', '=', ' ', '\n', 'é', '\u00ff', '😀',
);

/** Strings of every kind, short ones mostly. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...PAYLOADS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: NASTY_CHAR, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...PAYLOADS), fc.string({ unit: 'grapheme', maxLength: 8 })).map(([p, s]) => p + s) },
  // Around the limits the schemas set (64, 100, 200, 500, 2048…), and far beyond.
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(63, 64, 65, 100, 101, 200, 201, 254, 255, 500, 501, 1000, 1001, 2048, 2049, 5000), fc.constantFrom('a', 'é', '😀', "'", '<')).map(([n, c]) => c.repeat(n)) },
);

/** A string that is hostile in content only: printable, so that it can be valid where text is free. */
export const hostileText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...PAYLOADS.filter((p) => p.trim() && !/[\u0000-\u001f\ud800-\udfff]/.test(p))) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }) },
);

/** ASCII that a header may hold (no CR, LF or NUL, which `Headers` itself refuses). */
export const headerValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("' OR 1=1 --", '<script>', '*', '"v1"', 'W/"v1"', '"v999999"', 'null', 'Bearer', 'sk_', '%00', ''),
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 }),
  fc.constantFrom(300, 5000, 20_000).map((n) => 'x'.repeat(n)),
);

/** JSON values of any type, from the edges of each. */
export const hostileScalar: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.constantFrom(0, -1, 1.5, -0, 2 ** 53, -(2 ** 63), 1e308, Number.MIN_VALUE, 946_684_800_000, 9_999_999_999_999, true, false, null),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

const hostileKey = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'id', 'type', ''), hostileString);

/** Any JSON value, nesting included. */
export const hostileJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileScalar,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.array(fc.tuple(hostileKey, tie('value')), { maxLength: 4 }).map(objectOf),
  ),
})).value;

/** An object built from entries as `JSON.parse` would build it: `__proto__` an own key, not the prototype. */
export function objectOf(entries: [string, unknown][]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

export type Mutation =
  | { op: 'replace'; at: number; value: unknown }
  | { op: 'delete'; at: number }
  | { op: 'addKey'; at: number; key: string; value: unknown };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('replace' as const), at: fc.nat(), value: hostileJson }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('addKey' as const), at: fc.nat(), key: hostileKey, value: hostileJson }) },
);

type Path = (string | number)[];

function paths(value: unknown, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...at, i], out));
  else if (value && typeof value === 'object') for (const k of Object.keys(value)) paths((value as Record<string, unknown>)[k], [...at, k], out);
  return out;
}

const clone = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(clone) : v && typeof v === 'object' ? objectOf(Object.entries(v).map(([k, x]) => [k, clone(x)])) : v;

/** `value` with one place (picked by `m.at` among every place it has, itself included) broken. */
export function mutate(value: unknown, m: Mutation): unknown {
  const root = clone(value);
  const all = paths(root);
  const path = all[m.at % all.length]!;
  if (path.length === 0) {
    if (m.op === 'replace') return m.value;
    if (m.op === 'delete') return undefined;
  }
  let parent: unknown = root;
  for (const p of path.slice(0, m.op === 'addKey' ? path.length : -1)) parent = (parent as Record<string | number, unknown>)[p];
  const last = path[path.length - 1]!;
  if (m.op === 'addKey') {
    if (parent && typeof parent === 'object' && !Array.isArray(parent)) Object.defineProperty(parent, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
    else if (Array.isArray(parent)) parent.push(m.value);
  } else if (m.op === 'delete') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete (parent as Record<string, unknown>)[last];
  } else {
    (parent as Record<string | number, unknown>)[last] = m.value;
  }
  return root;
}

/**
 * Percent-encoded for a path or a query; a lone surrogate, which UTF-8 cannot hold, becomes the
 * bytes a careless encoder would write for it (`%ED%A0%80`): invalid UTF-8 on the way in.
 */
export const encodePart = (s: string): string =>
  [...s]
    .map((ch) => {
      const c = ch.charCodeAt(0);
      if (ch.length === 1 && c >= 0xd800 && c <= 0xdfff) return `%${(0xe0 | (c >> 12)).toString(16)}%${(0x80 | ((c >> 6) & 0x3f)).toString(16)}%${(0x80 | (c & 0x3f)).toString(16)}`.toUpperCase();
      return encodeURIComponent(ch);
    })
    .join('');
