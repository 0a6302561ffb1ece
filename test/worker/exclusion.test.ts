import { describe, expect, it } from 'vitest';
import { api, browserEvent, collect, leadByEmail, newSite, ORIGIN } from './helpers';

describe('persona-fit exclusion', () => {
  it('takes a lead out of its band when its profile matches an exclusion, and back in when it no longer does', async () => {
    const site = await newSite();
    await collect({ site: site.siteKey, events: [browserEvent('x1', 'identify', { traits: { email: 'kim@acme.io', jobTitle: 'Marketing' } })] });
    expect((await leadByEmail(site, 'kim@acme.io'))?.band).toBe('warm');

    await collect({ site: site.siteKey, events: [browserEvent('x1', 'identify', { traits: { email: 'kim@acme.io', jobTitle: 'Marketing student' } })] });
    const excluded = (await leadByEmail(site, 'kim@acme.io'))!;
    expect(excluded.band).toBeNull();
    expect(excluded.excluded).toEqual({ reason: 'Student' });
    const bands = (await (await api(site, '/v1/bands')).json()) as { bands: { name: string; count: number }[]; excluded: { count: number } };
    expect(bands.bands.find((b) => b.name === 'warm')?.count).toBe(0);
    expect(bands.excluded.count).toBe(1);

    await collect({ site: site.siteKey, events: [browserEvent('x1', 'identify', { traits: { email: 'kim@acme.io', jobTitle: 'Marketing manager' } })] });
    const back = (await leadByEmail(site, 'kim@acme.io'))!;
    expect(back.band).toBe('warm');
    expect(back.excluded).toBeNull();
    expect(back.timeline.filter((t) => t.kind === 'transition').map((t) => t.type)).toEqual([
      'lead.included',
      'lead.excluded',
      'lead.band_changed',
    ]);
    expect(back.timeline).toContainEqual(expect.objectContaining({ type: 'lead.excluded', from: 'warm', reason: 'Student' }));
    expect(back.timeline).toContainEqual(expect.objectContaining({ type: 'lead.included', to: 'warm', branch: 'technical-content' }));
  });

  it('gives no nurturing branch to an excluded lead however high it scores', async () => {
    const site = await newSite();
    await collect({
      site: site.siteKey,
      events: [
        browserEvent('x2', 'identify', { traits: { email: 'lee@gmail.com', jobTitle: 'CMO' } }),
        browserEvent('x2', 'form_submit', { url: `${ORIGIN}/demo`, contentType: 'demo_request', fields: { email: 'lee@gmail.com' } }),
      ],
    });
    // More events of the excluded lead: rescored, still excluded, and nothing more to announce.
    await collect({ site: site.siteKey, events: [browserEvent('x2', 'page_view', { url: `${ORIGIN}/pricing` })] });
    const lead = (await leadByEmail(site, 'lee@gmail.com'))!;
    expect(lead.score).toBeGreaterThanOrEqual(75);
    expect(lead.band).toBeNull();
    expect(lead.stage).toBe('prospect');
    expect(lead.timeline.filter((t) => t.kind === 'event')).toHaveLength(3);
    const transitions = lead.timeline.filter((t) => t.kind === 'transition');
    expect(transitions).toEqual([expect.objectContaining({ type: 'lead.excluded', reason: 'Free e-mail domain', branch: null })]);
  });
});

describe('explanation', () => {
  it("shows the score after each event and what the event added", async () => {
    const site = await newSite();
    const t0 = Date.now() - 3 * 60_000;
    await collect({
      site: site.siteKey,
      events: [
        browserEvent('h1', 'identify', { ts: t0, traits: { email: 'max@acme.io', jobTitle: 'Marketing' } }),
        browserEvent('h1', 'page_view', { ts: t0 + 60_000, url: `${ORIGIN}/pricing` }),
        browserEvent('h1', 'page_view', { ts: t0 + 120_000, url: `${ORIGIN}/about` }),
      ],
    });
    const lead = (await leadByEmail(site, 'max@acme.io'))!;
    const points = (lead.timeline as { kind: string; type: string; score?: number; delta?: number }[])
      .filter((t) => t.kind === 'event')
      .map((t) => [t.type, t.score, t.delta]);
    expect(points).toEqual([
      ['page_view', 50, 5],
      ['page_view', 45, 20],
      ['identify', 25, 0], // profile points count from the start: today's profile is the only one stored
    ]);
  });
});
