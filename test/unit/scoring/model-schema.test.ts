/** The zod `Model`: what parses, and for each kind of mistake an issue whose path names it. */
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { DEFAULT_MODEL } from '../../../worker/scoring/default-model';
import { Model } from '../../../worker/scoring/model';

type Path = (string | number)[];

/** A deep copy of the default model as plain JSON, the way a model arrives over the API. */
const json = (): any => JSON.parse(JSON.stringify(DEFAULT_MODEL));

/** The issues of a failed parse; a model that parses is a test failure. */
function issues(input: unknown): z.core.$ZodIssue[] {
  const r = Model.safeParse(input);
  expect(r.success, 'the model should be rejected').toBe(false);
  return r.success ? [] : r.error.issues;
}

/** Every issue path, with the paths inside a failed union (`when` is one condition or a list) spelled out. */
function paths(list: readonly z.core.$ZodIssue[], prefix: Path = []): Path[] {
  return list.flatMap((i) => {
    const here = [...prefix, ...(i.path as Path)];
    const nested = i.code === 'invalid_union' ? i.errors.flatMap((branch) => paths(branch, here)) : [];
    return [here, ...nested];
  });
}

const rejectedAt = (input: unknown, path: Path, code?: string) => {
  const found = issues(input);
  expect(paths(found), JSON.stringify(found)).toContainEqual(path);
  if (code) expect(found.map((i) => i.code)).toContain(code);
};

describe('valid models', () => {
  it('the default model parses, and unchanged', () => {
    const r = Model.safeParse(json());
    expect(r.success).toBe(true);
    expect(r.data).toEqual(DEFAULT_MODEL);
  });

  it('a minimal model parses: empty rule lists, one band, empty stage minimums', () => {
    expect(
      Model.safeParse({
        dimensions: { fit: {}, activity: {}, engagement: {} },
        behaviourRules: [],
        profileRules: [],
        exclusions: [],
        bands: [{ name: 'all', min: 0, branch: 'b' }],
        stages: { lead: {}, mql: {} },
      }).success,
    ).toBe(true);
  });

  it('a rule may use every event condition key, dates and datetimes with an offset', () => {
    const m = json();
    m.behaviourRules[0].when = {
      type: ['page_view'],
      path: '/pricing*',
      contentType: 'white_paper',
      formName: 'demo',
      extension: '.pdf',
      utmCampaign: 'spring',
      props: { plan: 'pro', seats: 3, trial: true },
      from: '2026-03-01',
      until: '2026-03-31T18:00:00+02:00',
    };
    expect(Model.safeParse(m).success).toBe(true);
  });
});

describe('duplicates', () => {
  it('rejects a duplicate behaviour rule id at the second one', () => {
    const m = json();
    m.behaviourRules[3].id = m.behaviourRules[1].id;
    rejectedAt(m, ['behaviourRules', 3, 'id'], 'custom');
  });

  it('rejects a duplicate profile rule id', () => {
    const m = json();
    m.profileRules[2].id = 'job-marketing';
    rejectedAt(m, ['profileRules', 2, 'id']);
  });

  it('rejects a duplicate exclusion id', () => {
    const m = json();
    m.exclusions[1].id = 'student';
    rejectedAt(m, ['exclusions', 1, 'id']);
  });

  it('rejects a duplicate band name', () => {
    const m = json();
    m.bands[2].name = 'cold';
    rejectedAt(m, ['bands', 2, 'name']);
  });

  it('rejects a band named "excluded", the name the API gives the leads outside every band', () => {
    const m = json();
    m.bands[1].name = 'excluded';
    const found = issues(m);
    expect(found.map((i) => [i.path, i.message])).toEqual([[['bands', 1, 'name'], '"excluded" names the leads outside every band; give the band another name']]);
  });

  it('allows the same id in different lists', () => {
    const m = json();
    m.exclusions[0].id = 'page-view';
    m.profileRules[0].id = 'page-view';
    expect(Model.safeParse(m).success).toBe(true);
  });
});

describe('bands', () => {
  it('rejects bands not in increasing order of min, at the band out of order', () => {
    const m = json();
    m.bands[2].min = 10;
    rejectedAt(m, ['bands', 2, 'min'], 'custom');
  });

  it('rejects two bands with the same min', () => {
    const m = json();
    m.bands[1].min = 0;
    rejectedAt(m, ['bands', 1, 'min']);
  });

  it('rejects a model without a band, or with more than 20', () => {
    const m = json();
    m.bands = [];
    rejectedAt(m, ['bands'], 'too_small');
    m.bands = Array.from({ length: 21 }, (_, i) => ({ name: `b${i}`, min: i, branch: 'x' }));
    rejectedAt(m, ['bands'], 'too_big');
  });
});

describe('regular expressions', () => {
  it('rejects an invalid regex in a profile rule at its value', () => {
    const m = json();
    m.profileRules[1].when.value = '(unclosed';
    rejectedAt(m, ['profileRules', 1, 'when', 'value'], 'custom');
  });

  it('rejects an invalid regex in a list of conditions, at its place in the list', () => {
    const m = json();
    m.profileRules[0].when = [
      { property: 'jobTitle', op: 'exists' },
      { property: 'jobTitle', op: 'matches', value: '[a-' },
    ];
    rejectedAt(m, ['profileRules', 0, 'when', 1, 'value']);
  });

  it('rejects a pattern that needs backtracking, saying why', () => {
    const m = json();
    m.exclusions[0].when.value = '^(?!.*@acme)';
    const result = Model.safeParse(m);
    expect(result.success).toBe(false);
    expect(result.error!.issues).toEqual([
      expect.objectContaining({ path: ['exclusions', 0, 'when', 'value'], message: expect.stringMatching(/^lookahead and lookbehind .* are not supported/) }),
    ]);
  });

  it('rejects an invalid regex in an exclusion', () => {
    const m = json();
    m.exclusions[0].when.value = '*student';
    rejectedAt(m, ['exclusions', 0, 'when', 'value']);
  });
});

describe('unknown keys', () => {
  const unknownAt = (edit: (m: any) => void, path: Path, key: string) => {
    const m = json();
    edit(m);
    const found = issues(m).filter((i) => i.code === 'unrecognized_keys');
    expect(found.map((i) => [i.path, i.keys])).toContainEqual([path, [key]]);
  };

  it('are rejected at every level, naming the object and the key', () => {
    unknownAt((m) => (m.version = 2), [], 'version');
    unknownAt((m) => (m.dimensions.activity.halfLife = 30), ['dimensions', 'activity'], 'halfLife');
    unknownAt((m) => (m.dimensions.social = {}), ['dimensions'], 'social');
    unknownAt((m) => (m.behaviourRules[2].max = 3), ['behaviourRules', 2], 'max');
    unknownAt((m) => (m.behaviourRules[0].when.url = '/x'), ['behaviourRules', 0, 'when'], 'url');
    unknownAt((m) => (m.profileRules[0].dimension = 'fit'), ['profileRules', 0], 'dimension');
    unknownAt((m) => (m.exclusions[0].points = -10), ['exclusions', 0], 'points');
    unknownAt((m) => (m.bands[0].max = 25), ['bands', 0], 'max');
    unknownAt((m) => (m.stages.lead.score = 10), ['stages', 'lead'], 'score');
    unknownAt((m) => (m.stages.sql = {}), ['stages'], 'sql');
  });

  it('are rejected inside a profile condition', () => {
    const m = json();
    m.profileRules[0].when.caseSensitive = true;
    rejectedAt(m, ['profileRules', 0, 'when'], 'unrecognized_keys');
  });
});

describe('numbers out of range', () => {
  const at = (edit: (m: any) => void, path: Path) => {
    const m = json();
    edit(m);
    rejectedAt(m, path);
  };

  it('points beyond ±1000', () => {
    at((m) => (m.behaviourRules[0].points = 1001), ['behaviourRules', 0, 'points']);
    at((m) => (m.behaviourRules[0].points = -1001), ['behaviourRules', 0, 'points']);
    at((m) => (m.profileRules[0].points = 5000), ['profileRules', 0, 'points']);
  });

  it('a half-life of 0, negative or beyond 3650 days', () => {
    at((m) => (m.dimensions.activity.halfLifeDays = 0), ['dimensions', 'activity', 'halfLifeDays']);
    at((m) => (m.dimensions.fit.halfLifeDays = -1), ['dimensions', 'fit', 'halfLifeDays']);
    at((m) => (m.dimensions.engagement.halfLifeDays = 3651), ['dimensions', 'engagement', 'halfLifeDays']);
  });

  it('a dimension max of 0 or beyond 100000', () => {
    at((m) => (m.dimensions.fit.max = 0), ['dimensions', 'fit', 'max']);
    at((m) => (m.dimensions.fit.max = 100_001), ['dimensions', 'fit', 'max']);
  });

  it('maxTimes that is not a positive integer, maxPoints that is not positive', () => {
    at((m) => (m.behaviourRules[1].maxTimes = 0), ['behaviourRules', 1, 'maxTimes']);
    at((m) => (m.behaviourRules[1].maxTimes = 1.5), ['behaviourRules', 1, 'maxTimes']);
    at((m) => (m.behaviourRules[6].maxPoints = 0), ['behaviourRules', 6, 'maxPoints']);
    at((m) => (m.behaviourRules[6].maxPoints = -20), ['behaviourRules', 6, 'maxPoints']);
  });

  it('a number that is not a number: NaN, a string, Infinity', () => {
    at((m) => (m.behaviourRules[0].points = '5'), ['behaviourRules', 0, 'points']);
    at((m) => (m.bands[1].min = Number.NaN), ['bands', 1, 'min']);
    at((m) => (m.stages.mql.total = Number.POSITIVE_INFINITY), ['stages', 'mql', 'total']);
  });
});

describe('other mistakes', () => {
  const at = (edit: (m: any) => void, path: Path) => {
    const m = json();
    edit(m);
    rejectedAt(m, path);
  };

  it('an id with capitals or spaces, an empty label', () => {
    at((m) => (m.behaviourRules[0].id = 'Page View'), ['behaviourRules', 0, 'id']);
    at((m) => (m.bands[0].branch = 'Generic'), ['bands', 0, 'branch']);
    at((m) => (m.behaviourRules[0].label = ''), ['behaviourRules', 0, 'label']);
    at((m) => (m.exclusions[0].reason = ''), ['exclusions', 0, 'reason']);
  });

  it('an unknown dimension', () => {
    at((m) => (m.behaviourRules[0].dimension = 'social'), ['behaviourRules', 0, 'dimension']);
  });

  it('a campaign date that is not ISO, or a datetime without its offset', () => {
    at((m) => (m.behaviourRules[0].when.from = '01/03/2026'), ['behaviourRules', 0, 'when', 'from']);
    at((m) => (m.behaviourRules[0].when.until = '2026-02-30'), ['behaviourRules', 0, 'when', 'until']);
    at((m) => (m.behaviourRules[0].when.from = '2026-03-01T00:00:00'), ['behaviourRules', 0, 'when', 'from']);
  });

  it('an empty campaign window: `until` before `from`, or the same instant', () => {
    at((m) => Object.assign(m.behaviourRules[0].when, { from: '2026-03-10', until: '2026-03-09' }), ['behaviourRules', 0, 'when', 'until']);
    at(
      (m) => Object.assign(m.behaviourRules[0].when, { from: '2026-03-10T10:00:00Z', until: '2026-03-10T10:00:00Z' }),
      ['behaviourRules', 0, 'when', 'until'],
    );
  });

  it('an empty list of types or globs, more than 20 props', () => {
    at((m) => (m.behaviourRules[0].when.type = []), ['behaviourRules', 0, 'when', 'type']);
    at((m) => (m.behaviourRules[1].when.path = ''), ['behaviourRules', 1, 'when', 'path']);
    at(
      (m) => (m.behaviourRules[0].when.props = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, i]))),
      ['behaviourRules', 0, 'when', 'props'],
    );
  });

  it('a profile operator that does not exist, or a value of the wrong kind for its operator', () => {
    at((m) => (m.profileRules[0].when.op = 'startsWith'), ['profileRules', 0, 'when', 'op']);
    at((m) => (m.profileRules[2].when.value = '50'), ['profileRules', 2, 'when', 'value']);
    at((m) => (m.exclusions[2].when.value = '@paidEmailDomains'), ['exclusions', 2, 'when', 'value']);
    at((m) => (m.profileRules[3].when.value = []), ['profileRules', 3, 'when', 'value']);
    at((m) => (m.profileRules[0].when = []), ['profileRules', 0, 'when']);
  });

  it('a stage that is not automatic given minimums', () => {
    at((m) => (m.stages = { lead: {}, mql: {}, customer: { total: 500 } }), ['stages']);
  });
});
