/**
 * fast-check generators of valid models, profiles and event streams for the property tests.
 *
 * The vocabularies are small on purpose: rules, conditions and events are drawn from the same few
 * types, paths, content types, campaigns and profile values, so that generated rules do match
 * generated events and profiles (caps, decay, exclusions and stages all get exercised).
 * Every model goes through `Model.parse`: a generator bug shows as a parse error, never as a model
 * the API would refuse.
 */
import fc from 'fast-check';
import { campaignWindow } from '../../../worker/scoring/conditions';
import { Model, STAGES, type Stage } from '../../../worker/scoring/model';
import type { Profile, ScoringEvent } from '../../../worker/scoring/types';

export const DAY = 86_400_000;
/** Start of the generated event window: 2026-01-01T00:00Z. */
export const T0 = Date.UTC(2026, 0, 1);
/** Events fall within SPAN_DAYS days of T0. */
export const SPAN_DAYS = 120;

const TYPES = ['page_view', 'download', 'form_submit', 'email_open', 'email_click'] as const;
const PATHS = [
  '/',
  '/pricing',
  '/pricing/teams/',
  '/Tarifs/pme',
  '/blog/why-scoring',
  '/blog/2026/03/news',
  '/docs/guide.pdf',
  '/files/Budget.XLSX',
  '/case-studies/acme',
  '/contact',
];
const GLOBS = ['/pricing*', '/tarifs*', '/blog/*', '/blog/**', '/docs/*.pdf', '/case-studies*', '/', '/c?ntact', '**', '/files/*'];
const CONTENT_TYPES = ['white_paper', 'ebook', 'demo_request', 'case_study'];
const FORMS = ['contact', 'demo', 'Newsletter'];
const CAMPAIGNS = ['spring', 'Summer-Sale'];
const EXTENSIONS = ['pdf', '.xlsx', 'PDF', 'zip'];

const PROFILE_VALUES = {
  jobTitle: ['Head of Marketing', 'marketing manager', 'Student', 'CEO', 'Engineer', 'VP Sales', ''],
  companySize: ['50-200', '1,000+', '10', 5, 250, 'unknown'],
  industry: ['Software', 'saas', 'Retail', 'IT Services'],
  emailDomain: ['acme.io', 'gmail.com', 'GMAIL.COM', 'competitor.example'],
  isCustomer: [true, false, 'true'],
} as const;
type ProfileKey = keyof typeof PROFILE_VALUES;
const PROFILE_KEYS = Object.keys(PROFILE_VALUES) as ProfileKey[];

const oneOrMany = <T>(values: readonly T[]): fc.Arbitrary<T | T[]> =>
  fc.oneof(fc.constantFrom(...values), fc.subarray([...values], { minLength: 1, maxLength: Math.min(3, values.length) }));

/** Cents, so that rounding to the hundredth is exercised. */
const cents = (min: number, max: number) => fc.integer({ min: min * 100, max: max * 100 }).map((c) => c / 100);

// ---------------------------------------------------------------------------------------------
// Events

const eventTime = fc.oneof(
  // A coarse grid: many events share a timestamp, so ties (broken by id) are common.
  fc.integer({ min: 0, max: 20 }).map((i) => T0 + i * 6 * DAY),
  fc.integer({ min: 0, max: SPAN_DAYS * DAY }).map((x) => T0 + x),
);

const eventUrl = fc.option(
  fc
    .tuple(fc.constantFrom(...PATHS), fc.option(fc.constantFrom(...CAMPAIGNS), { nil: null }))
    .map(([p, c]) => `https://site.example${p}${c ? `?utm_campaign=${c}` : ''}`),
  { nil: null },
);

const eventProps = fc.option(
  fc.record(
    {
      form: fc.constantFrom(...FORMS),
      utm_campaign: fc.constantFrom(...CAMPAIGNS),
      plan: fc.constantFrom('pro', 'Free'),
      seats: fc.integer({ min: 1, max: 3 }),
    },
    { requiredKeys: [] },
  ),
  { nil: null },
);

export const eventArb: fc.Arbitrary<ScoringEvent> = fc.record({
  id: fc.string({ unit: fc.constantFrom(...'abcXY019-'), minLength: 1, maxLength: 5 }),
  type: fc.constantFrom(...TYPES),
  ts: eventTime,
  url: eventUrl,
  contentType: fc.option(fc.constantFrom(...CONTENT_TYPES, 'White_Paper'), { nil: null }),
  props: eventProps,
});

/** Events with unique ids, in no particular order. */
export const eventsArb = (opts: { minLength?: number; maxLength?: number } = {}): fc.Arbitrary<ScoringEvent[]> =>
  fc.uniqueArray(eventArb, { selector: (e) => e.id, minLength: opts.minLength ?? 0, maxLength: opts.maxLength ?? 25, size: 'medium' });

/** A moment to score at: from before the first event (future-stamped events) to long after the last. */
export const nowArb: fc.Arbitrary<number> = fc.integer({ min: -10 * DAY, max: (SPAN_DAYS + 400) * DAY }).map((x) => T0 + x);

export const stageArb: fc.Arbitrary<Stage> = fc.constantFrom(...STAGES);

// ---------------------------------------------------------------------------------------------
// Profiles

export const profileArb: fc.Arbitrary<Profile> = fc.record(
  {
    jobTitle: fc.constantFrom(...PROFILE_VALUES.jobTitle, null),
    companySize: fc.constantFrom(...PROFILE_VALUES.companySize, null),
    industry: fc.constantFrom(...PROFILE_VALUES.industry),
    emailDomain: fc.constantFrom(...PROFILE_VALUES.emailDomain),
    isCustomer: fc.constantFrom(...PROFILE_VALUES.isCustomer),
  },
  { requiredKeys: [] },
);

// ---------------------------------------------------------------------------------------------
// Conditions

const profileCondition = fc.constantFrom(...PROFILE_KEYS).chain((property) => {
  const values = PROFILE_VALUES[property].filter((v) => v !== '') as (string | number | boolean)[];
  const texts = values.map(String);
  return fc.oneof(
    fc.constant({ property, op: 'exists' as const }),
    fc.constantFrom(...values, 'MARKETING MANAGER', 'software').map((value) => ({ property, op: 'equals' as const, value })),
    fc.constantFrom('market', 'ing', 'O', 'gmail').map((value) => ({ property, op: 'contains' as const, value })),
    fc.constantFrom('^head', '\\bceo\\b', 'stud(ent)?', '\\d+', 'gmail\\.com$').map((value) => ({ property, op: 'matches' as const, value })),
    fc.integer({ min: 0, max: 1200 }).map((value) => ({ property, op: 'gte' as const, value })),
    fc.integer({ min: 0, max: 1200 }).map((value) => ({ property, op: 'lte' as const, value })),
    fc
      .oneof(fc.constant('@freeEmailDomains' as const), fc.subarray(texts, { minLength: 1 }))
      .map((value) => ({ property, op: 'in' as const, value })),
  );
});

const profileWhen = fc.oneof(profileCondition, fc.array(profileCondition, { minLength: 1, maxLength: 3 }));

const isoDay = (offsetDays: number) => new Date(T0 + offsetDays * DAY).toISOString().slice(0, 10);
const campaignDate = fc.oneof(
  fc.integer({ min: -5, max: SPAN_DAYS + 5 }).map(isoDay),
  fc.integer({ min: -5 * 24, max: (SPAN_DAYS + 5) * 24 }).map((h) => new Date(T0 + h * 3_600_000).toISOString()),
  // The same instant written with a +02:00 offset.
  fc
    .integer({ min: -5 * 24, max: (SPAN_DAYS + 5) * 24 })
    .map((h) => `${new Date(T0 + (h + 2) * 3_600_000).toISOString().slice(0, 19)}+02:00`),
);

const EVENT_CONDITION_PARTS = {
  type: oneOrMany(TYPES),
  path: oneOrMany(GLOBS),
  contentType: oneOrMany(CONTENT_TYPES),
  formName: oneOrMany(FORMS),
  extension: oneOrMany(EXTENSIONS),
  utmCampaign: oneOrMany(CAMPAIGNS),
  props: fc.record({ plan: fc.constantFrom('PRO', 'free'), seats: fc.integer({ min: 1, max: 3 }) }, { requiredKeys: [] }),
  from: campaignDate,
  until: campaignDate,
} as const;
type EventConditionKey = keyof typeof EVENT_CONDITION_PARTS;

/** 0 to 3 keys, so that conditions are often met. */
const eventCondition = fc
  .uniqueArray(fc.constantFrom(...(Object.keys(EVENT_CONDITION_PARTS) as EventConditionKey[])), { maxLength: 3 })
  .chain((keys) => fc.record(Object.fromEntries(keys.map((k) => [k, EVENT_CONDITION_PARTS[k]])) as Record<string, fc.Arbitrary<unknown>>))
  // A model may not hold an empty campaign window: with both ends, `until` comes after `from`.
  .filter((c) => typeof c.from !== 'string' || typeof c.until !== 'string' || campaignWindow(c as { from: string; until: string }).every((t, i, [a]) => i === 0 || t > a!));

// ---------------------------------------------------------------------------------------------
// Models

export interface ModelOptions {
  /** Only positive points (behaviour and profile rules): what decay monotonicity needs. */
  positivePoints?: boolean;
}

const dimensionSettings = fc.record(
  { max: cents(1, 150).filter((x) => x > 0), halfLifeDays: fc.integer({ min: 1, max: 2000 }).map((x) => x / 10) },
  { requiredKeys: [] },
);

const minimums = fc.record(
  {
    fit: fc.integer({ min: -20, max: 30 }),
    activity: fc.integer({ min: -20, max: 60 }),
    engagement: fc.integer({ min: -20, max: 20 }),
    total: fc.integer({ min: -20, max: 120 }),
  },
  { requiredKeys: [] },
);

export function modelArb(opts: ModelOptions = {}): fc.Arbitrary<Model> {
  const points = opts.positivePoints ? cents(0.01, 60) : fc.oneof(cents(-40, 60), fc.integer({ min: -30, max: 60 }));
  const behaviourRule = fc.record(
    {
      dimension: fc.constantFrom('fit', 'activity', 'engagement'),
      points,
      when: eventCondition,
      maxTimes: fc.integer({ min: 1, max: 5 }),
      maxPoints: cents(0.5, 100),
    },
    { requiredKeys: ['dimension', 'points', 'when'] },
  );
  const profileRule = fc.record({ points, when: profileWhen });
  const exclusion = fc.record({ reason: fc.constantFrom('Student', 'Competitor', 'Too small'), when: profileWhen });
  const bands = fc
    .uniqueArray(fc.integer({ min: -50, max: 200 }), { minLength: 1, maxLength: 4 })
    .map((mins) => mins.sort((a, b) => a - b).map((min, i) => ({ name: `band-${i}`, min, branch: `branch-${i}` })));

  return fc
    .record({
      dimensions: fc.record({ fit: dimensionSettings, activity: dimensionSettings, engagement: dimensionSettings }),
      behaviourRules: fc.array(behaviourRule, { maxLength: 8 }),
      profileRules: fc.array(profileRule, { maxLength: 4 }),
      exclusions: fc.array(exclusion, { maxLength: 2 }),
      bands,
      stages: fc.record({ lead: minimums, mql: minimums }),
    })
    .map((m) =>
      Model.parse({
        ...m,
        behaviourRules: m.behaviourRules.map((r, i) => ({ id: `b-${i}`, label: `behaviour ${i}`, ...r })),
        profileRules: m.profileRules.map((r, i) => ({ id: `p-${i}`, label: `profile ${i}`, ...r })),
        exclusions: m.exclusions.map((r, i) => ({ id: `x-${i}`, ...r })),
      }),
    );
}

/** The events in another order of arrival. */
export const permutationOf = <T>(items: readonly T[]): fc.Arbitrary<T[]> =>
  fc.shuffledSubarray([...items], { minLength: items.length, maxLength: items.length });
