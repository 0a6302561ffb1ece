import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL } from '../../../worker/scoring/default-model';
import { scoreLead } from '../../../worker/scoring/score';
import type { ScoringEvent } from '../../../worker/scoring/types';

const T0 = Date.UTC(2026, 10, 2, 9);
let n = 0;
const ev = (type: string, url?: string, extra: Partial<ScoringEvent> = {}): ScoringEvent => ({
  id: `e${++n}`,
  type,
  ts: T0 + n * 60_000,
  url: url ? `https://acme.example${url}` : null,
  ...extra,
});
const NOW = T0 + 86_400_000; // a day later: decay is small but not zero
const AT = (events: ScoringEvent[]) => Math.max(...events.map((e) => e.ts));
const fitting = { email: 'ana@acme.io', emailDomain: 'acme.io' };

describe('the default model', () => {
  it('takes the worked example to stage "lead": form +10, open and click +5 each, Marketing +25, four pages +5', () => {
    const events = [
      ev('form_submit', '/contact'),
      ev('email_open'),
      ev('email_click'),
      ev('page_view', '/'),
      ev('page_view', '/product'),
      ev('page_view', '/blog/why-scoring'),
      ev('page_view', '/about'),
    ];
    const s = scoreLead(DEFAULT_MODEL, events, { ...fitting, jobTitle: 'Marketing' }, AT(events));
    expect(s.scores).toEqual({ fit: 25, activity: 30, engagement: 10 });
    expect(s.total).toBe(65);
    expect(s.stage).toBe('lead');
    expect(s.band).toBe('warm');
    expect(s.breakdown.map((b) => [b.ruleId, b.points, b.count])).toEqual([
      ['page-view', 20, 4],
      ['form-submit', 10, 1],
      ['email-open', 5, 1],
      ['email-click', 5, 1],
      ['job-marketing', 25, 1],
    ]);
  });

  it('stays a prospect one point short of any minimum', () => {
    const events = [ev('form_submit'), ev('email_open'), ev('page_view', '/'), ev('page_view', '/a'), ev('page_view', '/b'), ev('page_view', '/c')];
    const s = scoreLead(DEFAULT_MODEL, events, { ...fitting, jobTitle: 'Marketing' }, AT(events));
    expect(s.scores.engagement).toBe(5);
    expect(s.stage).toBe('prospect');
  });

  it('weights pricing and references pages far above an ordinary page or a blog article', () => {
    const one = (path: string) => {
      const events = [ev('page_view', path)];
      return scoreLead(DEFAULT_MODEL, events, fitting, AT(events)).scores.activity;
    };
    expect(one('/about')).toBe(5);
    expect(one('/blog/ten-tips')).toBe(5);
    expect(one('/pricing')).toBe(20);
    expect(one('/tarifs/entreprise')).toBe(20);
    expect(one('/references')).toBe(15);
    expect(one('/case-studies/acme')).toBe(15);
    expect(one('/customers/')).toBe(15);
  });

  it('scores content by type: high velocity far above low velocity', () => {
    const asset = (contentType: string) => {
      const events = [ev('download', '/files/asset.pdf', { contentType })];
      return scoreLead(DEFAULT_MODEL, events, fitting, AT(events)).scores.activity;
    };
    expect(asset('white_paper')).toBe(25);
    expect(asset('technical_resource')).toBe(25);
    expect(asset('ebook')).toBe(10);
    expect(asset('case_study')).toBe(10);
    expect(asset('unknown_kind')).toBe(5);
  });

  it('makes a fitting lead hot at once with a demo request', () => {
    const events = [ev('form_submit', '/demo', { contentType: 'demo_request' })];
    const s = scoreLead(DEFAULT_MODEL, events, { ...fitting, jobTitle: 'Head of Marketing', companySize: '200-500' }, AT(events));
    expect(s.scores.activity).toBe(60);
    expect(s.scores.fit).toBe(50);
    expect(s.band).toBe('hot');
    expect(s.stage).toBe('mql');
  });

  it('makes a lead an MQL at 100 only when it fits', () => {
    const events = [ev('form_submit', '/demo', { contentType: 'demo_request' }), ...Array.from({ length: 8 }, (_, i) => ev('page_view', `/p${i}`))];
    const stage = (jobTitle: string) => scoreLead(DEFAULT_MODEL, events, { ...fitting, jobTitle }, AT(events));
    const unfit = stage('Accountant');
    expect([unfit.scores.fit, unfit.scores.activity, unfit.stage]).toEqual([0, 100, 'prospect']);
    const fit = stage('Marketing assistant');
    expect([fit.scores.fit, fit.total, fit.stage]).toEqual([25, 125, 'mql']);
  });

  it('bands: cold below 25, warm from 25, hot from 75', () => {
    const band = (jobTitle: string, pages: number) => {
      const events = Array.from({ length: pages }, (_, i) => ev('page_view', `/p${i}`));
      return scoreLead(DEFAULT_MODEL, events, { ...fitting, jobTitle }, AT(events)).band;
    };
    expect(band('Engineer', 4)).toBe('cold'); // 20
    expect(band('Engineer', 5)).toBe('warm'); // 25
    expect(band('Marketing', 9)).toBe('warm'); // 25 + 45
    expect(band('Marketing', 10)).toBe('hot'); // 25 + 50
  });

  it.each([
    ['student', { jobTitle: 'Student in marketing' }, 'Student'],
    ['étudiant', { jobTitle: 'Étudiant' }, 'Student'],
    ['free mailbox', { email: 'ana@gmail.com', emailDomain: 'gmail.com' }, 'Free e-mail domain'],
    ['competitor', { email: 'spy@competitor.example', emailDomain: 'competitor.example' }, 'Competitor (edit the list of their domains)'],
  ])('excludes a %s: no band, never sales-ready', (_, profile, reason) => {
    const events = [ev('form_submit', '/demo', { contentType: 'demo_request' }), ev('page_view', '/pricing')];
    const s = scoreLead(DEFAULT_MODEL, events, { ...fitting, ...profile }, AT(events));
    expect(s.exclusion?.reason).toBe(reason);
    expect(s.band).toBeNull();
    expect(s.stage).toBe('prospect');
    expect(s.total).toBeGreaterThan(75);
  });

  it('decays activity with a 90-day half-life and leaves fit alone', () => {
    const events = [ev('page_view', '/pricing')];
    const s = scoreLead(DEFAULT_MODEL, events, { ...fitting, jobTitle: 'Marketing' }, events[0]!.ts + 90 * 86_400_000);
    expect(s.scores.activity).toBe(10);
    expect(s.scores.fit).toBe(25);
    expect(scoreLead(DEFAULT_MODEL, events, fitting, NOW).scores.activity).toBeCloseTo(20 * 2 ** (-1 / 90), 2);
  });
});
