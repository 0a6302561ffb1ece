/** @module Whether an event or a profile meets a rule's condition. */
import type { EventFacts } from './event-facts';
import { FREE_EMAIL_DOMAINS } from './free-email-domains';
import { globMatch } from './glob';
import { pattern } from './pattern';
import type { EventCondition, ProfileCondition } from './model';
import type { Profile } from './types';

const list = (v: string | string[]): string[] => (Array.isArray(v) ? v : [v]);
// One collator for all comparisons: building one per call (as `localeCompare` with options does)
// cost 80% of a recompute's time. Plain ASCII, the usual case, needs no collation at all.
const collator = new Intl.Collator(undefined, { sensitivity: 'accent' });
const ASCII = /^[\x20-\x7e]*$/;
/** Equal ignoring case but not accents: `Cadre` is `cadre`, `Resume` is not `Résumé`. */
const eqi = (a: string, b: string) =>
  a === b || (ASCII.test(a) && ASCII.test(b) ? a.length === b.length && a.toLowerCase() === b.toLowerCase() : collator.compare(a, b) === 0);
const anyEq = (v: string | string[], actual: string | null) =>
  actual !== null && list(v).some((x) => eqi(x, actual));

export function eventMatches(c: EventCondition, e: EventFacts): boolean {
  return eventShapeMatches(c, e) && inWindow(c, e.ts);
}

/** Everything a condition tests but the time: what an event is, wherever it falls in a campaign. */
export function eventShapeMatches(c: EventCondition, e: Omit<EventFacts, 'ts'>): boolean {
  if (c.type !== undefined && !anyEq(c.type, e.type)) return false;
  if (c.path !== undefined && (e.path === null || !list(c.path).some((g) => globMatch(g, e.path!)))) return false;
  if (c.contentType !== undefined && !anyEq(c.contentType, e.contentType)) return false;
  if (c.formName !== undefined && !anyEq(c.formName, e.formName)) return false;
  if (c.extension !== undefined && !anyEq(list(c.extension).map((x) => x.replace(/^\./, '')), e.extension)) return false;
  if (c.utmCampaign !== undefined && !anyEq(c.utmCampaign, e.utmCampaign)) return false;
  if (c.props) {
    for (const [k, want] of Object.entries(c.props)) {
      const got = Object.hasOwn(e.props, k) ? e.props[k] : undefined;
      if (typeof want === 'string' ? typeof got !== 'string' || !eqi(want, got) : got !== want) return false;
    }
  }
  return true;
}

const DAY_MS = 86_400_000;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * The campaign window as [first instant counted, first instant no longer counted). A date alone
 * means that day in UTC, and `until` a date includes it: "until 2026-03-31" counts March 31st.
 */
export function campaignWindow(c: { from?: string | undefined; until?: string | undefined }): [number, number] {
  const from = c.from === undefined ? -Infinity : Date.parse(c.from);
  const until = c.until === undefined ? Infinity : Date.parse(c.until) + (DATE_ONLY.test(c.until) ? DAY_MS : 0);
  return [from, until];
}

export function inWindow(c: { from?: string | undefined; until?: string | undefined }, ts: number): boolean {
  const [from, until] = campaignWindow(c);
  return ts >= from && ts < until;
}

/** First number in a value: `"50-200"` is 50, `"1,000+"` is 1000. */
function numeric(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v !== 'string') return null;
  const m = v.replace(/(\d)[,\s](?=\d{3}\b)/g, '$1').match(/-?\d+(\.\d+)?/);
  return m ? Number(m[0]) : null;
}

/**
 * What an `in` or `contains` condition compares with, made once per condition: every lead of a
 * recompute is tested against the same few conditions. An `in` list's printable-ASCII values are
 * lower-cased into a set, so an ASCII text is one lookup where `eqi` against each value tested both
 * strings' characters and lower-cased them, value after value (some 40% of a recompute's profile
 * tests with the default model's list of eight industries). The other values still go through
 * `eqi`, as does a text that is not plain ASCII: the same answers, value for value.
 */
interface Prepared {
  lowered: string;
  ascii: ReadonlySet<string>;
  others: readonly string[];
}
const preparedOf = new WeakMap<ProfileCondition, Prepared>();
function prepared(c: ProfileCondition & { value: string | string[] }): Prepared {
  let p = preparedOf.get(c);
  if (!p) {
    const values = list(c.value);
    p = {
      lowered: typeof c.value === 'string' ? c.value.toLowerCase() : '',
      ascii: new Set(values.filter((v) => ASCII.test(v)).map((v) => v.toLowerCase())),
      others: values.filter((v) => !ASCII.test(v)),
    };
    preparedOf.set(c, p);
  }
  return p;
}

function profileMatches(c: ProfileCondition, profile: Profile): boolean {
  const raw = Object.hasOwn(profile, c.property) ? profile[c.property] : undefined;
  const present = raw !== undefined && raw !== null && raw !== '';
  if (c.op === 'exists') return present;
  if (!present) return false;
  const text = String(raw);
  switch (c.op) {
    case 'equals':
      return typeof c.value === 'string' ? eqi(c.value, text) : raw === c.value || text === String(c.value);
    case 'contains':
      return text.toLowerCase().includes(prepared(c).lowered);
    case 'matches':
      return pattern(c.value).test(text);
    case 'gte': {
      const n = numeric(raw);
      return n !== null && n >= c.value;
    }
    case 'lte': {
      const n = numeric(raw);
      return n !== null && n <= c.value;
    }
    case 'in':
      if (c.value === '@freeEmailDomains') return FREE_EMAIL_DOMAINS.has(text.toLowerCase());
      if (!ASCII.test(text)) return c.value.some((v) => eqi(v, text));
      const { ascii, others } = prepared(c);
      return ascii.has(text.toLowerCase()) || others.some((v) => eqi(v, text));
  }
}

/** A single condition, or every condition of a list. */
export function profileMeets(when: ProfileCondition | ProfileCondition[], profile: Profile): boolean {
  return Array.isArray(when) ? when.every((c) => profileMatches(c, profile)) : profileMatches(when, profile);
}
