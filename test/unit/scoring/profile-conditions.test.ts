/** Profile conditions: every operator, lists of conditions, and missing or empty properties. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { profileMeets } from '../../../worker/scoring/conditions';
import { ProfileCondition } from '../../../worker/scoring/model';
import { scoreLead } from '../../../worker/scoring/score';
import type { Profile } from '../../../worker/scoring/types';
import { T0, model } from './fixtures';

/** Parses the condition through the schema first: only conditions a model may hold are tested. */
const meets = (c: unknown, profile: Profile): boolean => profileMeets(ProfileCondition.parse(c), profile);
const all = (cs: unknown[], profile: Profile): boolean => profileMeets(cs.map((c) => ProfileCondition.parse(c)), profile);

describe('equals', () => {
  const title = (value: unknown) => ({ property: 'jobTitle', op: 'equals', value });

  it('compares strings without regard to case', () => {
    expect(meets(title('marketing'), { jobTitle: 'Marketing' })).toBe(true);
    expect(meets(title('Marketing'), { jobTitle: 'MARKETING' })).toBe(true);
    expect(meets(title('MARKETING'), { jobTitle: 'marketing' })).toBe(true);
  });

  it('compares the whole value, not a part of it', () => {
    expect(meets(title('marketing'), { jobTitle: 'Marketing manager' })).toBe(false);
    expect(meets(title('marketing manager'), { jobTitle: 'Marketing' })).toBe(false);
    expect(meets(title('marketer'), { jobTitle: 'Marketing' })).toBe(false);
  });

  it('compares numbers, whether the profile holds a number or a numeric string', () => {
    const size = (value: number) => ({ property: 'companySize', op: 'equals', value });
    expect(meets(size(50), { companySize: 50 })).toBe(true);
    expect(meets(size(50), { companySize: '50' })).toBe(true);
    expect(meets(size(50), { companySize: 51 })).toBe(false);
    expect(meets(size(50), { companySize: '500' })).toBe(false);
    expect(meets(size(0), { companySize: 0 })).toBe(true);
    expect(meets({ property: 'companySize', op: 'equals', value: '50' }, { companySize: 50 })).toBe(true);
  });

  it('compares booleans, true and false alike', () => {
    const customer = (value: boolean) => ({ property: 'isCustomer', op: 'equals', value });
    expect(meets(customer(true), { isCustomer: true })).toBe(true);
    expect(meets(customer(false), { isCustomer: false })).toBe(true);
    expect(meets(customer(true), { isCustomer: false })).toBe(false);
    expect(meets(customer(false), { isCustomer: true })).toBe(false);
    expect(meets(customer(true), { isCustomer: 'true' })).toBe(true);
    expect(meets(customer(true), { isCustomer: 'yes' })).toBe(false);
  });
});

describe('in', () => {
  const industry = { property: 'industry', op: 'in', value: ['software', 'SaaS', 'it services'] };

  it('holds when the value is one of the list, without regard to case', () => {
    expect(meets(industry, { industry: 'Software' })).toBe(true);
    expect(meets(industry, { industry: 'saas' })).toBe(true);
    expect(meets(industry, { industry: 'IT Services' })).toBe(true);
  });

  it('does not hold for a value outside the list, nor for a part of a member', () => {
    expect(meets(industry, { industry: 'Retail' })).toBe(false);
    expect(meets(industry, { industry: 'soft' })).toBe(false);
    expect(meets(industry, { industry: 'software house' })).toBe(false);
  });

  it('matches a number in the profile against its text in the list', () => {
    expect(meets({ property: 'tier', op: 'in', value: ['1', '2'] }, { tier: 2 })).toBe(true);
    expect(meets({ property: 'tier', op: 'in', value: ['1', '2'] }, { tier: 3 })).toBe(false);
  });

  it('holds exactly when the value equals a member, accents, case and non-ASCII members alike', () => {
    // The list's plain-ASCII members are looked up in a set made once per condition: it must
    // answer as comparing the value with each member does (`equals`), which folds case alone and
    // compares other text by locale, accents kept apart.
    const word = fc.constantFrom('it', 'IT', 'Ét', 'ét', 'et', 'É', 'e', 'ß', 'SS', 'ss', 'ﬁ', 'fi', 'İ', 'i', 'café', 'CAFÉ', 'cafe', 'a b', 'a\tb', '');
    const text = fc.array(word, { minLength: 1, maxLength: 3 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(fc.array(text.filter((t) => t !== ''), { minLength: 1, maxLength: 6 }), text, (list, value) => {
        const equalsOne = list.some((member) => meets({ property: 'p', op: 'equals', value: member }, { p: value }));
        expect(meets({ property: 'p', op: 'in', value: list }, { p: value })).toBe(equalsOne);
      }),
      { numRuns: 2000 },
    );
  });

  it('uses the built-in @freeEmailDomains set', () => {
    const free = { property: 'emailDomain', op: 'in', value: '@freeEmailDomains' };
    for (const d of ['gmail.com', 'GMail.com', 'outlook.fr', 'yahoo.co.uk', 'proton.me']) {
      expect(meets(free, { emailDomain: d }), d).toBe(true);
    }
    for (const d of ['acme.io', 'gmail.com.acme.io', 'notgmail.com', 'gmail']) {
      expect(meets(free, { emailDomain: d }), d).toBe(false);
    }
  });
});

describe('contains', () => {
  const title = (value: string) => ({ property: 'jobTitle', op: 'contains', value });

  it('finds the text anywhere in the value, without regard to case', () => {
    expect(meets(title('marketing'), { jobTitle: 'Head of MARKETING' })).toBe(true);
    expect(meets(title('MARKET'), { jobTitle: 'Product marketing manager' })).toBe(true);
    expect(meets(title('Head of Marketing'), { jobTitle: 'head of marketing' })).toBe(true);
  });

  it('does not hold when the text is absent', () => {
    expect(meets(title('marketing'), { jobTitle: 'Sales director' })).toBe(false);
    expect(meets(title('marketing manager'), { jobTitle: 'Marketing' })).toBe(false);
  });

  it('reads a number as its text', () => {
    expect(meets({ property: 'zip', op: 'contains', value: '750' }, { zip: 75011 })).toBe(true);
    expect(meets({ property: 'zip', op: 'contains', value: '690' }, { zip: 75011 })).toBe(false);
  });
});

describe('matches', () => {
  const title = (value: string) => ({ property: 'jobTitle', op: 'matches', value });

  it('tests a regular expression, without regard to case', () => {
    expect(meets(title('\\b(vp|chief)\\b'), { jobTitle: 'VP Sales' })).toBe(true);
    expect(meets(title('\\b(vp|chief)\\b'), { jobTitle: 'Chief Marketing Officer' })).toBe(true);
    expect(meets(title('^head of'), { jobTitle: 'HEAD OF GROWTH' })).toBe(true);
  });

  it('honours the expression: anchors, word boundaries and metacharacters', () => {
    expect(meets(title('^vp'), { jobTitle: 'SVP Sales' })).toBe(false);
    expect(meets(title('\\bintern\\b'), { jobTitle: 'International sales' })).toBe(false);
    expect(meets(title('\\bintern\\b'), { jobTitle: 'Marketing intern' })).toBe(true);
    expect(meets(title('c.o'), { jobTitle: 'CEO' })).toBe(true);
    expect(meets(title('c\\.o'), { jobTitle: 'CEO' })).toBe(false);
  });

  it('answers the same on every call (no state kept between tests of one expression)', () => {
    const c = title('market');
    const answers = Array.from({ length: 4 }, () => meets(c, { jobTitle: 'Marketing' }));
    expect(answers).toEqual([true, true, true, true]);
  });
});

describe('gte and lte', () => {
  const gte = (value: number) => ({ property: 'companySize', op: 'gte', value });
  const lte = (value: number) => ({ property: 'companySize', op: 'lte', value });

  it('compare numbers, bounds included', () => {
    expect(meets(gte(50), { companySize: 50 })).toBe(true);
    expect(meets(gte(50), { companySize: 49 })).toBe(false);
    expect(meets(gte(50), { companySize: 51.5 })).toBe(true);
    expect(meets(lte(50), { companySize: 50 })).toBe(true);
    expect(meets(lte(50), { companySize: 51 })).toBe(false);
    expect(meets(lte(0), { companySize: -3 })).toBe(true);
  });

  it('read the first number of a range: "50-200" is 50', () => {
    expect(meets(gte(50), { companySize: '50-200' })).toBe(true);
    expect(meets(gte(51), { companySize: '50-200' })).toBe(false);
    expect(meets(lte(50), { companySize: '50-200' })).toBe(true);
    expect(meets(lte(49), { companySize: '50-200' })).toBe(false);
  });

  it('read thousands separators: "1,000+" is 1000, "10 000" is 10000', () => {
    expect(meets(gte(1000), { companySize: '1,000+' })).toBe(true);
    expect(meets(gte(1001), { companySize: '1,000+' })).toBe(false);
    expect(meets(lte(1000), { companySize: '1,000+' })).toBe(true);
    expect(meets(gte(10_000), { companySize: '10 000' })).toBe(true);
    expect(meets(gte(1_000_000), { companySize: '1,000,000' })).toBe(true);
    expect(meets(lte(999), { companySize: '1,000+' })).toBe(false);
  });

  it('read decimals and negative numbers in text', () => {
    expect(meets(gte(12.5), { companySize: '12.5' })).toBe(true);
    expect(meets(gte(12.6), { companySize: '12.5' })).toBe(false);
    expect(meets(lte(-5), { companySize: '-5' })).toBe(true);
  });

  it('do not hold for a value without a number, nor for a boolean', () => {
    for (const v of ['many', 'n/a', true, false]) {
      expect(meets(gte(0), { companySize: v }), String(v)).toBe(false);
      expect(meets(lte(1e9), { companySize: v }), String(v)).toBe(false);
    }
  });
});

describe('exists', () => {
  const has = { property: 'phone', op: 'exists' };

  it('holds for any present value, falsy ones included', () => {
    for (const v of ['+33 1 23', 0, false, 'no']) expect(meets(has, { phone: v }), String(v)).toBe(true);
  });

  it('does not hold for a missing, null, undefined or empty value', () => {
    expect(meets(has, {})).toBe(false);
    expect(meets(has, { phone: null })).toBe(false);
    expect(meets(has, { phone: undefined })).toBe(false);
    expect(meets(has, { phone: '' })).toBe(false);
  });

  it('sees only the profile own properties, not those every object inherits', () => {
    expect(meets({ property: 'toString', op: 'exists' }, {})).toBe(false);
    expect(meets({ property: 'constructor', op: 'contains', value: 'Object' }, {})).toBe(false);
  });
});

describe('a missing or empty property', () => {
  const conditions = [
    { property: 'p', op: 'equals', value: 'x' },
    { property: 'p', op: 'equals', value: 0 },
    { property: 'p', op: 'equals', value: false },
    { property: 'p', op: 'in', value: ['x', 'y'] },
    { property: 'p', op: 'in', value: '@freeEmailDomains' },
    { property: 'p', op: 'contains', value: 'x' },
    { property: 'p', op: 'matches', value: '.*' },
    { property: 'p', op: 'gte', value: -1e9 },
    { property: 'p', op: 'lte', value: 1e9 },
  ];

  it.each(conditions.map((c) => [`${c.op} ${JSON.stringify(c.value)}`, c] as const))(
    'meets no %s condition',
    (_, c) => {
      for (const profile of [{}, { p: null }, { p: undefined }, { p: '' }]) {
        expect(meets(c, profile), JSON.stringify(profile)).toBe(false);
      }
    },
  );

  it('is what made them fail: the same conditions hold once the property is present', () => {
    const present = { p: 'x' };
    expect(conditions.filter((c) => meets(c, present)).map((c) => c.op)).toEqual(['equals', 'in', 'contains', 'matches']);
    expect(meets({ property: 'p', op: 'gte', value: -1e9 }, { p: 5 })).toBe(true);
    expect(meets({ property: 'p', op: 'lte', value: 1e9 }, { p: 5 })).toBe(true);
  });
});

describe('a list of conditions', () => {
  const marketer = { property: 'jobTitle', op: 'contains', value: 'marketing' };
  const big = { property: 'companySize', op: 'gte', value: 50 };
  const free = { property: 'emailDomain', op: 'in', value: '@freeEmailDomains' };

  it('holds only when every condition holds', () => {
    const p = { jobTitle: 'Marketing lead', companySize: '200-500', emailDomain: 'acme.io' };
    expect(all([marketer, big], p)).toBe(true);
    expect(all([marketer, big, free], p)).toBe(false);
    expect(all([free, marketer], p)).toBe(false);
    expect(all([marketer, big], { ...p, companySize: '10-49' })).toBe(false);
    expect(all([marketer, big], { companySize: 500 })).toBe(false);
  });

  it('of one condition is that condition', () => {
    expect(all([marketer], { jobTitle: 'marketing' })).toBe(true);
    expect(all([marketer], { jobTitle: 'sales' })).toBe(false);
  });
});

describe('profile rules in scoreLead', () => {
  const m = model({
    profileRules: [
      { id: 'marketer', label: 'Marketer', points: 25, when: { property: 'jobTitle', op: 'contains', value: 'marketing' } },
      {
        id: 'big-marketer',
        label: 'Marketer in a big company',
        points: 10,
        when: [
          { property: 'jobTitle', op: 'contains', value: 'marketing' },
          { property: 'companySize', op: 'gte', value: 50 },
        ],
      },
      { id: 'free-mail', label: 'Free mailbox', points: -15, when: { property: 'emailDomain', op: 'in', value: '@freeEmailDomains' } },
    ],
  });

  it('give their points to fit, once each, whatever the events', () => {
    const s = scoreLead(m, [], { jobTitle: 'Head of Marketing', companySize: '1,000+' }, T0);
    expect(s.scores).toEqual({ fit: 35, activity: 0, engagement: 0 });
    expect(s.breakdown).toEqual([
      { ruleId: 'marketer', kind: 'profile', label: 'Marketer', dimension: 'fit', points: 25, count: 1 },
      { ruleId: 'big-marketer', kind: 'profile', label: 'Marketer in a big company', dimension: 'fit', points: 10, count: 1 },
    ]);
  });

  it('give negative points too, and nothing for an empty profile', () => {
    expect(scoreLead(m, [], { jobTitle: 'Marketing', emailDomain: 'gmail.com' }, T0).scores.fit).toBe(10);
    expect(scoreLead(m, [], { emailDomain: 'Hotmail.fr' }, T0).scores.fit).toBe(-15);
    const empty = scoreLead(m, [], {}, T0);
    expect(empty.scores.fit).toBe(0);
    expect(empty.breakdown).toEqual([]);
  });
});
