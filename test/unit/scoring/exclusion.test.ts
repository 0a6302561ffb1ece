/** Persona-fit exclusion: no band, a reason and a rule id, first matching rule wins, reversible. */
import { describe, expect, it } from 'vitest';
import { scoreLead } from '../../../worker/scoring/score';
import { T0, evs, model, rule, type ModelInput } from './fixtures';

const exclusions: ModelInput['exclusions'] = [
  { id: 'student', reason: 'Student', when: { property: 'jobTitle', op: 'matches', value: 'student|intern' } },
  { id: 'free-email', reason: 'Free e-mail domain', when: { property: 'emailDomain', op: 'in', value: '@freeEmailDomains' } },
  {
    id: 'tiny-agency',
    reason: 'Agency too small',
    when: [
      { property: 'industry', op: 'equals', value: 'agency' },
      { property: 'companySize', op: 'lte', value: 5 },
    ],
  },
];
const m = model({
  behaviourRules: [rule('view', 10, { type: 'page_view' })],
  profileRules: [{ id: 'marketer', label: 'Marketer', points: 30, when: { property: 'jobTitle', op: 'contains', value: 'marketing' } }],
  exclusions,
  stages: { lead: { total: 50 }, mql: { total: 100 } },
});
const events = evs(6, 'page_view');
const now = T0 + 10 * 60_000;

describe('an excluded lead', () => {
  const s = scoreLead(m, events, { jobTitle: 'Marketing student', emailDomain: 'acme.io' }, now);

  it('belongs to no band and says why, with the rule id', () => {
    expect(s.band).toBeNull();
    expect(s.exclusion).toEqual({ ruleId: 'student', reason: 'Student' });
  });

  it('is still scored and explained', () => {
    expect(s.scores).toEqual({ fit: 30, activity: 60, engagement: 0 });
    expect(s.total).toBe(90);
    expect(s.breakdown.map((b) => b.ruleId)).toEqual(['view', 'marketer']);
  });

  it('is never advanced to a stage', () => {
    expect(s.stage).toBe('prospect');
  });
});

describe('exclusion rules', () => {
  it('do not exclude a lead none of them matches: it has its band', () => {
    const s = scoreLead(m, events, { jobTitle: 'Marketing', emailDomain: 'acme.io', industry: 'agency', companySize: 40 }, now);
    expect(s.exclusion).toBeNull();
    expect(s.band).toBe('hot');
    expect(s.stage).toBe('lead');
  });

  it('with a list of conditions exclude only when all hold', () => {
    const agency = { industry: 'Agency', companySize: '2-5' };
    expect(scoreLead(m, [], agency, now).exclusion?.ruleId).toBe('tiny-agency');
    expect(scoreLead(m, [], { ...agency, companySize: '6-10' }, now).exclusion).toBeNull();
    expect(scoreLead(m, [], { companySize: 3 }, now).exclusion).toBeNull();
  });

  it('are tried in model order: the first matching one wins', () => {
    const both = { jobTitle: 'Intern', emailDomain: 'gmail.com' };
    expect(scoreLead(m, [], both, now).exclusion).toEqual({ ruleId: 'student', reason: 'Student' });
    const reversed = model({ exclusions: [...exclusions].reverse() });
    expect(scoreLead(reversed, [], both, now).exclusion).toEqual({ ruleId: 'free-email', reason: 'Free e-mail domain' });
    expect(scoreLead(m, [], { emailDomain: 'gmail.com' }, now).exclusion?.ruleId).toBe('free-email');
  });
});

describe('a profile change out of the exclusion', () => {
  it('puts the lead back in the band of its total, and lets it advance', () => {
    const before = scoreLead(m, events, { jobTitle: 'Marketing intern', emailDomain: 'acme.io' }, now);
    expect(before.band).toBeNull();
    expect(before.stage).toBe('prospect');
    const after = scoreLead(m, events, { jobTitle: 'Marketing manager', emailDomain: 'acme.io' }, now, before.stage);
    expect(after.exclusion).toBeNull();
    expect(after.total).toBe(90);
    expect(after.band).toBe('hot');
    expect(after.stage).toBe('lead');
  });

  it('gives back the same band as a lead that was never excluded', () => {
    const low = evs(3, 'page_view');
    const excluded = scoreLead(m, low, { emailDomain: 'gmail.com' }, now);
    const included = scoreLead(m, low, { emailDomain: 'acme.io' }, now, excluded.stage);
    expect(excluded.band).toBeNull();
    expect(included).toEqual(scoreLead(m, low, { emailDomain: 'acme.io' }, now));
    expect(included.band).toBe('warm');
  });

  it('into an exclusion takes the band away again', () => {
    const in1 = scoreLead(m, events, { emailDomain: 'acme.io' }, now);
    const out = scoreLead(m, events, { emailDomain: 'yahoo.fr' }, now, in1.stage);
    expect(in1.band).toBe('warm');
    expect(out.band).toBeNull();
    expect(out.exclusion?.ruleId).toBe('free-email');
    expect(out.stage).toBe(in1.stage);
  });
});
