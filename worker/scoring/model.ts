/**
 * @module The scoring model: one JSON document per site, validated here and nowhere else.
 *
 * Every bound is explicit: a model is written by marketers in an editor and by scripts over the
 * API, and a model that parses must always score without throwing.
 */
import { z } from 'zod';
import { campaignWindow } from './conditions';
import { patternProblem } from './pattern';

export const DIMENSIONS = ['fit', 'activity', 'engagement'] as const;
export const Dimension = z.enum(DIMENSIONS);
export type Dimension = z.infer<typeof Dimension>;

/** Automatic stages a model may define; the manual ones follow them and are set by sales. */
export const AUTOMATIC_STAGES = ['lead', 'mql'] as const;
export const STAGES = ['prospect', 'lead', 'mql', 'sql', 'opportunity', 'customer'] as const;
export const Stage = z.enum(STAGES);
export type Stage = z.infer<typeof Stage>;

const id = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case letters, digits, "-" and "_" only');
const label = z.string().min(1).max(200);
const points = z.number().finite().min(-1000).max(1000);
const shortText = z.string().min(1).max(200);
const oneOrMany = z.union([shortText, z.array(shortText).min(1).max(50)]);
const isoDate = z.iso.datetime({ offset: true }).or(z.iso.date());

/**
 * `z.record` that refuses a `__proto__` key: zod leaves it out of the record without a word, so
 * `{"__proto__": …}` would pass as `{}` (and a `props` condition match every event) while
 * `constructor` or any other key the schema refuses is named in a 400.
 */
export const recordOf = <K extends z.core.$ZodRecordKey, V extends z.ZodType>(key: K, value: V) =>
  z.preprocess((input, ctx) => {
    if (input !== null && typeof input === 'object' && Object.hasOwn(input, '__proto__')) {
      ctx.addIssue({ code: 'custom', path: ['__proto__'], message: 'this key is not allowed', input });
    }
    return input;
  }, z.record(key, value));

export const DimensionSettings = z.strictObject({
  /** Score limit of the dimension; points past it are kept in the breakdown but not counted. */
  max: z.number().finite().positive().max(100_000).optional(),
  /** Each point counts 2^(-ageDays/halfLifeDays); absent means no decay. */
  halfLifeDays: z.number().finite().positive().max(3650).optional(),
});
export type DimensionSettings = z.infer<typeof DimensionSettings>;

/** What an event must look like for a behaviour rule to give points. Every key present must hold. */
export const EventCondition = z.strictObject({
  type: oneOrMany.optional(),
  /** URL path globs: `*` matches within a segment, `**` across segments, `/pricing*` a prefix. */
  path: oneOrMany.optional(),
  contentType: oneOrMany.optional(),
  formName: oneOrMany.optional(),
  /** Extension of the link or URL, without the dot. */
  extension: oneOrMany.optional(),
  utmCampaign: oneOrMany.optional(),
  props: recordOf(z.string().min(1).max(100), z.union([z.string().max(200), z.number(), z.boolean()]))
    .refine((r) => Object.keys(r).length <= 20, 'at most 20 properties')
    .optional(),
  /** Campaign window: only events at or after `from` and before `until` count. */
  from: isoDate.optional(),
  until: isoDate.optional(),
}).refine(
  (c) => c.from === undefined || c.until === undefined || campaignWindow(c)[0] < campaignWindow(c)[1],
  { message: 'the campaign window is empty: `until` must come after `from`', path: ['until'] },
);
export type EventCondition = z.infer<typeof EventCondition>;

export const BehaviourRule = z.strictObject({
  id,
  label,
  dimension: Dimension,
  points,
  when: EventCondition,
  /** Count at most N matching events per lead (the earliest N). */
  maxTimes: z.number().int().positive().max(100_000).optional(),
  /** Limit of this rule's total points per lead, before decay. */
  maxPoints: z.number().finite().positive().max(100_000).optional(),
});
export type BehaviourRule = z.infer<typeof BehaviourRule>;

/** Named value sets a condition may use instead of a literal list, e.g. `"@freeEmailDomains"`. */
export const VALUE_SETS = ['@freeEmailDomains'] as const;

export const ProfileCondition = z.discriminatedUnion('op', [
  z.strictObject({ property: shortText, op: z.literal('exists') }),
  z.strictObject({ property: shortText, op: z.literal('equals'), value: z.union([shortText, z.number(), z.boolean()]) }),
  z.strictObject({ property: shortText, op: z.literal('contains'), value: shortText }),
  z.strictObject({
    property: shortText,
    op: z.literal('matches'),
    // JavaScript's syntax, case-insensitive, without what needs backtracking (see `pattern`).
    value: shortText.superRefine((s, ctx) => {
      const problem = patternProblem(s);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  }),
  z.strictObject({ property: shortText, op: z.literal('gte'), value: z.number().finite() }),
  z.strictObject({ property: shortText, op: z.literal('lte'), value: z.number().finite() }),
  z.strictObject({
    property: shortText,
    op: z.literal('in'),
    value: z.union([z.enum(VALUE_SETS), z.array(shortText).min(1).max(1000)]),
  }),
]);
export type ProfileCondition = z.infer<typeof ProfileCondition>;

/** One condition, or a list that must all hold. */
const profileWhen = z.union([ProfileCondition, z.array(ProfileCondition).min(1).max(10)]);

export const ProfileRule = z.strictObject({ id, label, points, when: profileWhen });
export type ProfileRule = z.infer<typeof ProfileRule>;

export const ExclusionRule = z.strictObject({ id, reason: label, when: profileWhen });
export type ExclusionRule = z.infer<typeof ExclusionRule>;

/**
 * What the API calls the leads outside every band, beside the bands' names: in the segments' stats
 * and history, in a preview's counts and moves, in the quality report and the dashboard. No band
 * may take it, or its leads and the excluded ones would be counted as one.
 */
export const EXCLUDED = 'excluded';

export const Band = z.strictObject({
  name: id,
  /** Lowest total score of the band; the first band also holds everything below it. */
  min: z.number().finite(),
  /** The nurturing branch that nurturing tools run for members of this band. */
  branch: id,
  description: z.string().max(500).optional(),
});
export type Band = z.infer<typeof Band>;

const minimums = z.strictObject({
  fit: z.number().finite().optional(),
  activity: z.number().finite().optional(),
  engagement: z.number().finite().optional(),
  total: z.number().finite().optional(),
});
export type StageMinimums = z.infer<typeof minimums>;

export const Model = z
  .strictObject({
    dimensions: z.strictObject({ fit: DimensionSettings, activity: DimensionSettings, engagement: DimensionSettings }),
    behaviourRules: z.array(BehaviourRule).max(500),
    profileRules: z.array(ProfileRule).max(500),
    exclusions: z.array(ExclusionRule).max(100),
    bands: z.array(Band).min(1).max(20),
    /** Minimum scores of the automatic stages; a lead is in the highest one whose minimums it meets. */
    stages: z.strictObject({ lead: minimums, mql: minimums }),
  })
  .superRefine((m, ctx) => {
    const unique = (key: 'behaviourRules' | 'profileRules' | 'exclusions') => {
      const seen = new Set<string>();
      m[key].forEach((r, i) => {
        if (seen.has(r.id)) ctx.addIssue({ code: 'custom', path: [key, i, 'id'], message: `duplicate id "${r.id}"` });
        seen.add(r.id);
      });
    };
    unique('behaviourRules');
    unique('profileRules');
    unique('exclusions');
    const names = new Set<string>();
    m.bands.forEach((b, i) => {
      if (names.has(b.name)) ctx.addIssue({ code: 'custom', path: ['bands', i, 'name'], message: `duplicate band "${b.name}"` });
      if (b.name === EXCLUDED) {
        ctx.addIssue({ code: 'custom', path: ['bands', i, 'name'], message: `"${EXCLUDED}" names the leads outside every band; give the band another name` });
      }
      names.add(b.name);
      if (i > 0 && b.min <= m.bands[i - 1]!.min) {
        ctx.addIssue({ code: 'custom', path: ['bands', i, 'min'], message: 'bands must be in increasing order of min' });
      }
    });
  });
export type Model = z.infer<typeof Model>;
