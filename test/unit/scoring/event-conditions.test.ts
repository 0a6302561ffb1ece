/** Event conditions of behaviour rules: every key, and the facts read from an event's URL and props. */
import { describe, expect, it } from 'vitest';
import { eventMatches } from '../../../worker/scoring/conditions';
import { eventFacts } from '../../../worker/scoring/event-facts';
import { EventCondition } from '../../../worker/scoring/model';
import { scoreLead } from '../../../worker/scoring/score';
import type { ScoringEvent } from '../../../worker/scoring/types';
import { T0, ev, model, rule } from './fixtures';

/** Parses the condition through the schema first: only conditions a model may hold are tested. */
const matches = (c: unknown, e: ScoringEvent): boolean => eventMatches(EventCondition.parse(c), eventFacts(e));

describe('an empty condition', () => {
  it('matches every event', () => {
    expect(matches({}, ev('anything'))).toBe(true);
    expect(matches({}, ev('page_view', { path: '/x?utm_campaign=y' }))).toBe(true);
  });
});

describe('type', () => {
  it('matches the event type, or any of a list', () => {
    expect(matches({ type: 'page_view' }, ev('page_view'))).toBe(true);
    expect(matches({ type: 'page_view' }, ev('download'))).toBe(false);
    expect(matches({ type: ['email_open', 'email_click'] }, ev('email_click'))).toBe(true);
    expect(matches({ type: ['email_open', 'email_click'] }, ev('email_bounce'))).toBe(false);
  });

  it('compares the whole type without regard to case', () => {
    expect(matches({ type: 'Page_View' }, ev('page_view'))).toBe(true);
    expect(matches({ type: 'page' }, ev('page_view'))).toBe(false);
  });
});

describe('path', () => {
  it('matches the path of the URL with a glob, ignoring host, query and fragment', () => {
    const c = { path: '/pricing*' };
    expect(matches(c, ev('page_view', { url: 'https://acme.example/pricing/teams?utm_source=x#plans' }))).toBe(true);
    expect(matches(c, ev('page_view', { url: 'https://pricing.example/about?next=/pricing' }))).toBe(false);
  });

  it('matches any glob of a list', () => {
    const c = { path: ['/pricing*', '/tarifs*'] };
    expect(matches(c, ev('page_view', { path: '/tarifs/pme' }))).toBe(true);
    expect(matches(c, ev('page_view', { path: '/prix' }))).toBe(false);
  });

  it('reads a relative URL, and a percent-encoded path decoded', () => {
    expect(matches({ path: '/pricing' }, ev('page_view', { url: '/pricing' }))).toBe(true);
    expect(matches({ path: '/références*' }, ev('page_view', { path: '/r%C3%A9f%C3%A9rences/acme' }))).toBe(true);
  });

  it('does not match an event without a URL', () => {
    expect(matches({ path: '**' }, ev('email_open', { url: null }))).toBe(false);
    expect(matches({ path: '**' }, ev('page_view', { path: '/' }))).toBe(true);
  });
});

describe('contentType', () => {
  it('matches the content type, or any of a list, without regard to case', () => {
    expect(matches({ contentType: 'white_paper' }, ev('download', { contentType: 'White_Paper' }))).toBe(true);
    expect(matches({ contentType: 'WHITE_PAPER' }, ev('download', { contentType: 'white_paper' }))).toBe(true);
    expect(matches({ contentType: ['demo_request', 'quote_request'] }, ev('form_submit', { contentType: 'quote_request' }))).toBe(true);
    expect(matches({ contentType: ['demo_request', 'quote_request'] }, ev('form_submit', { contentType: 'newsletter' }))).toBe(false);
  });

  it('does not match an event without a content type', () => {
    expect(matches({ contentType: 'white_paper' }, ev('download'))).toBe(false);
  });
});

describe('formName', () => {
  it('matches props.form, without regard to case', () => {
    expect(matches({ formName: 'contact' }, ev('form_submit', { props: { form: 'Contact' } }))).toBe(true);
    expect(matches({ formName: ['demo', 'trial'] }, ev('form_submit', { props: { form: 'trial' } }))).toBe(true);
    expect(matches({ formName: 'contact' }, ev('form_submit', { props: { form: 'newsletter' } }))).toBe(false);
  });

  it('does not match without a form name, or with one that is not text', () => {
    expect(matches({ formName: 'contact' }, ev('form_submit'))).toBe(false);
    expect(matches({ formName: 'contact' }, ev('form_submit', { props: { name: 'contact' } }))).toBe(false);
    expect(matches({ formName: '1' }, ev('form_submit', { props: { form: 1 } }))).toBe(false);
  });
});

describe('extension', () => {
  const file = (path: string) => ev('download', { path });

  it('matches the extension of the URL, written with or without the dot, without regard to case', () => {
    expect(matches({ extension: 'pdf' }, file('/files/guide.pdf'))).toBe(true);
    expect(matches({ extension: '.pdf' }, file('/files/guide.pdf'))).toBe(true);
    expect(matches({ extension: 'PDF' }, file('/files/guide.pdf'))).toBe(true);
    expect(matches({ extension: '.pdf' }, file('/files/GUIDE.PDF'))).toBe(true);
    expect(matches({ extension: ['docx', '.xlsx'] }, file('/files/budget.xlsx'))).toBe(true);
  });

  it('reads the extension of the path, not of the query', () => {
    expect(matches({ extension: 'pdf' }, file('/files/guide.pdf?v=2#page=3'))).toBe(true);
    expect(matches({ extension: 'pdf' }, file('/download?file=guide.pdf'))).toBe(false);
  });

  it('compares whole extensions', () => {
    expect(matches({ extension: 'doc' }, file('/files/a.docx'))).toBe(false);
    expect(matches({ extension: 'docx' }, file('/files/a.doc'))).toBe(false);
    expect(matches({ extension: 'gz' }, file('/files/a.tar.gz'))).toBe(true);
  });

  it('does not match a path without an extension, or an event without a URL', () => {
    expect(matches({ extension: 'pdf' }, file('/files/guide'))).toBe(false);
    expect(matches({ extension: 'pdf' }, file('/files/pdf'))).toBe(false);
    expect(matches({ extension: 'pdf' }, ev('download'))).toBe(false);
  });
});

describe('utmCampaign', () => {
  it('matches utm_campaign of the URL query, decoded, without regard to case', () => {
    expect(matches({ utmCampaign: 'spring-sale' }, ev('page_view', { path: '/?utm_source=li&utm_campaign=Spring-Sale' }))).toBe(true);
    expect(matches({ utmCampaign: 'spring sale' }, ev('page_view', { path: '/?utm_campaign=spring%20sale' }))).toBe(true);
    expect(matches({ utmCampaign: 'spring-sale' }, ev('page_view', { path: '/?utm_campaign=autumn' }))).toBe(false);
  });

  it('matches props.utm_campaign when the URL has none', () => {
    expect(matches({ utmCampaign: 'webinar-q3' }, ev('email_click', { props: { utm_campaign: 'Webinar-Q3' } }))).toBe(true);
    expect(matches({ utmCampaign: 'webinar-q3' }, ev('page_view', { path: '/blog', props: { utm_campaign: 'webinar-q3' } }))).toBe(true);
    expect(matches({ utmCampaign: ['a', 'webinar-q3'] }, ev('email_click', { props: { utm_campaign: 'webinar-q3' } }))).toBe(true);
  });

  it('does not match without a campaign, nor on another query parameter', () => {
    expect(matches({ utmCampaign: 'spring' }, ev('page_view', { path: '/' }))).toBe(false);
    expect(matches({ utmCampaign: 'spring' }, ev('page_view', { path: '/?utm_source=spring' }))).toBe(false);
    expect(matches({ utmCampaign: 'spring' }, ev('email_click'))).toBe(false);
  });
});

describe('props', () => {
  const e = ev('signup', { props: { plan: 'Pro', seats: 10, trial: true } });

  it('matches text without regard to case, numbers and booleans exactly', () => {
    expect(matches({ props: { plan: 'pro' } }, e)).toBe(true);
    expect(matches({ props: { seats: 10 } }, e)).toBe(true);
    expect(matches({ props: { trial: true } }, e)).toBe(true);
    expect(matches({ props: { plan: 'enterprise' } }, e)).toBe(false);
    expect(matches({ props: { seats: 11 } }, e)).toBe(false);
    expect(matches({ props: { trial: false } }, e)).toBe(false);
  });

  it('does not confuse a number with its text', () => {
    expect(matches({ props: { seats: '10' } }, e)).toBe(false);
    expect(matches({ props: { plan: 1 } }, ev('signup', { props: { plan: '1' } }))).toBe(false);
  });

  it('needs every property present and equal', () => {
    expect(matches({ props: { plan: 'pro', seats: 10 } }, e)).toBe(true);
    expect(matches({ props: { plan: 'pro', seats: 12 } }, e)).toBe(false);
    expect(matches({ props: { plan: 'pro', region: 'eu' } }, e)).toBe(false);
    expect(matches({ props: { plan: 'pro' } }, ev('signup'))).toBe(false);
  });
});

describe('campaign window from/until', () => {
  const at = (iso: string, deltaMs = 0) => ev('page_view', { ts: Date.parse(iso) + deltaMs });

  it('counts events from `from` on, `from` included (ISO datetime)', () => {
    const c = { from: '2026-03-01T08:30:00Z' };
    expect(matches(c, at('2026-03-01T08:30:00Z'))).toBe(true);
    expect(matches(c, at('2026-03-01T08:30:00Z', -1))).toBe(false);
    expect(matches(c, at('2027-01-01T00:00:00Z'))).toBe(true);
  });

  it('counts events before `until` only, `until` excluded (ISO datetime)', () => {
    const c = { until: '2026-03-31T18:00:00Z' };
    expect(matches(c, at('2026-03-31T18:00:00Z', -1))).toBe(true);
    expect(matches(c, at('2026-03-31T18:00:00Z'))).toBe(false);
    expect(matches(c, at('2026-04-01T00:00:00Z'))).toBe(false);
  });

  it('reads an ISO date as that day in UTC: `from` from its start, `until` to its end', () => {
    const c = { from: '2026-03-01', until: '2026-03-31' };
    expect(matches(c, at('2026-03-01T00:00:00Z'))).toBe(true);
    expect(matches(c, at('2026-03-01T00:00:00Z', -1))).toBe(false);
    expect(matches(c, at('2026-03-31T23:59:59.999Z'))).toBe(true);
    expect(matches(c, at('2026-04-01T00:00:00Z'))).toBe(false);
  });

  it('one day: `from` and `until` the same date', () => {
    const c = { from: '2026-03-05', until: '2026-03-05' };
    expect(matches(c, at('2026-03-05T12:00:00Z'))).toBe(true);
    expect(matches(c, at('2026-03-06T00:00:00Z'))).toBe(false);
  });

  it('reads the offset of an ISO datetime', () => {
    const c = { from: '2026-03-01T00:00:00+02:00' }; // 2026-02-28T22:00Z
    expect(matches(c, at('2026-02-28T22:00:00Z'))).toBe(true);
    expect(matches(c, at('2026-02-28T22:00:00Z', -1))).toBe(false);
  });
});

describe('several keys', () => {
  const c = { type: 'download', contentType: 'white_paper', extension: 'pdf', from: '2026-01-01' };
  const good = ev('download', { path: '/wp.pdf', contentType: 'white_paper', ts: T0 });

  it('must all hold', () => {
    expect(matches(c, good)).toBe(true);
    expect(matches(c, { ...good, type: 'page_view' })).toBe(false);
    expect(matches(c, { ...good, contentType: 'ebook' })).toBe(false);
    expect(matches(c, { ...good, url: 'https://acme.example/wp.zip' })).toBe(false);
    expect(matches(c, { ...good, ts: Date.UTC(2025, 11, 31) })).toBe(false);
  });
});

describe('behaviour rules in scoreLead', () => {
  it("count a campaign's events as its condition does, at either end of its window", () => {
    // The engine tests windows on its own, against the rule's bounds as numbers: this ties it to
    // `eventMatches`, whose ends are tested above, an instant before, at and after each bound.
    for (const when of [
      { from: '2026-03-01T08:30:00Z', until: '2026-03-31T18:00:00Z' },
      { from: '2026-03-01', until: '2026-03-31' },
    ]) {
      const [from, until] = [Date.parse(when.from), Date.parse(when.until) + (when.until.length === 10 ? 86_400_000 : 0)];
      const events = [from - 1, from, from + 1, until - 1, until, until + 1].map((ts) => ev('page_view', { ts }));
      const counted = events.filter((e) => matches(when, e)).length;
      expect(counted).toBe(3);
      const s = scoreLead(model({ behaviourRules: [rule('spring', 7, when)] }), events, {}, until + 1000);
      expect(s.breakdown.map((b) => [b.ruleId, b.count])).toEqual([['spring', counted]]);
    }
  });


  it('give their points for the matching events only, in their dimension', () => {
    const m = model({
      behaviourRules: [
        rule('pricing', 15, { type: 'page_view', path: '/pricing*' }),
        rule('spring', 7, { utmCampaign: 'spring', from: '2026-03-01', until: '2026-03-02' }, { dimension: 'engagement' }),
      ],
    });
    const events = [
      ev('page_view', { path: '/pricing?utm_campaign=spring', ts: T0 }),
      ev('page_view', { path: '/pricing', ts: T0 + 1000 }),
      ev('page_view', { path: '/blog?utm_campaign=spring', ts: Date.UTC(2026, 2, 3) }),
      ev('download', { path: '/pricing.pdf', ts: T0 }),
    ];
    const s = scoreLead(m, events, {}, T0 + 1000);
    expect(s.scores).toEqual({ fit: 0, activity: 30, engagement: 7 });
    expect(s.breakdown.map((b) => [b.ruleId, b.dimension, b.points, b.count])).toEqual([
      ['pricing', 'activity', 30, 2],
      ['spring', 'engagement', 7, 1],
    ]);
  });
});
