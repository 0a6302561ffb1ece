/**
 * @module Turning API values into display strings.
 *
 * Pure functions returning plain strings; the caller puts them in text nodes. Values are typed
 * `unknown` where the API passes through what visitors sent (profile properties), so that a number,
 * an object or a missing field is shown sensibly instead of crashing a render.
 */
import { h } from './dom';

/** Scores are rounded to hundredths by the server (decay makes them fractional); show no float noise. */
export function formatScore(n: unknown): string {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–';
  return String(Math.round(n * 100) / 100);
}

/** Points of a rule, signed so that negative rules (student, competitor…) stand out. */
export function formatPoints(n: unknown): string {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–';
  const s = formatScore(Math.abs(n));
  return n > 0 ? `+${s}` : n < 0 ? `−${s}` : s;
}

/** A band's range, e.g. "25 – 75"; the top band has no upper bound. */
export function formatRange(min: number, max: number | null): string {
  return max === null ? `${formatScore(min)} and above` : `${formatScore(min)} – ${formatScore(max)}`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return n === 1 ? one : many;
}

const counts = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

/** A count with the reader's digit grouping, "1,234 leads": a dash for anything but a number. */
export function formatCount(n: unknown): string {
  return typeof n === 'number' && Number.isFinite(n) ? counts.format(n) : '–';
}

/** Any profile value as text: strings as they are, other JSON as JSON. */
export function displayValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  try {
    return JSON.stringify(v) ?? '';
  } catch {
    return '';
  }
}

/** "Ana Lopez" from the profile, or '' when the lead has given no name. */
export function fullName(profile: Readonly<Record<string, unknown>>): string {
  const first = displayValue(profile['firstName']).trim();
  const last = displayValue(profile['lastName']).trim();
  return [first, last].filter(Boolean).join(' ');
}

const STAGE_LABELS: Readonly<Record<string, string>> = {
  prospect: 'Prospect',
  lead: 'Lead',
  mql: 'MQL',
  sql: 'SQL',
  opportunity: 'Opportunity',
  customer: 'Customer',
};

export function stageLabel(stage: unknown): string {
  const s = displayValue(stage);
  return STAGE_LABELS[s] ?? s;
}

const DIMENSION_LABELS: Readonly<Record<string, string>> = {
  fit: 'Fit',
  activity: 'Activity',
  engagement: 'Engagement',
};

export function dimensionLabel(d: unknown): string {
  const s = displayValue(d);
  return DIMENSION_LABELS[s] ?? s;
}

const dateTime = new Intl.DateTimeFormat(undefined, {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
});
const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

function validDate(ms: unknown): Date | null {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return null;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** A `<time>` element with a machine-readable datetime, or a dash when there is no date. */
export function timeEl(ms: unknown, style: 'date' | 'clock' = 'date'): HTMLElement {
  const d = validDate(ms);
  if (!d) return h('span', { class: 'muted' }, '–');
  return h('time', { datetime: d.toISOString() }, (style === 'clock' ? clock : dateTime).format(d));
}
