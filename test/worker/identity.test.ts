import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { browserEvent, collect, leadByEmail, newSite, ORIGIN, rowCounts } from './helpers';

describe('identity', () => {
  it("counts a visitor's anonymous history for the lead once a form identifies it", async () => {
    const site = await newSite();
    const pages = ['/', '/pricing', '/references'].map((p) => browserEvent('anon-1', 'page_view', { url: `${ORIGIN}${p}` }));
    await collect({ site: site.siteKey, events: pages });
    expect(await rowCounts(site.id)).toMatchObject({ events: 3, visitors: 1, leads: 0 });

    await collect({
      site: site.siteKey,
      events: [
        browserEvent('anon-1', 'form_submit', {
          url: `${ORIGIN}/contact`,
          fields: { email: 'carla@globex.io', job_title: 'VP Marketing', company: 'Globex', company_size: '250', content_type: 'white_paper' },
          props: { form: 'contact' },
        }),
      ],
    });
    const lead = await leadByEmail(site, 'carla@globex.io');
    // 3 pages (15) + pricing (15) + references (10) + form (10) + white paper (20)
    expect(lead?.scores.activity).toBe(70);
    expect(lead?.scores.fit).toBe(50);
    expect(lead?.band).toBe('hot');
    expect(lead?.profile).toMatchObject({ jobTitle: 'VP Marketing', company: 'Globex', companySize: '250' });
    expect(lead?.profile).not.toHaveProperty('content_type');
    const unattributed = await env.DB.prepare('SELECT count(*) AS n FROM events WHERE site_id = ? AND lead_id IS NULL').bind(site.id).first<{ n: number }>();
    expect(unattributed?.n).toBe(0);
  });

  it('attributes anonymous events earlier in the same batch', async () => {
    const site = await newSite();
    await collect({
      site: site.siteKey,
      events: [
        browserEvent('anon-2', 'page_view', { url: `${ORIGIN}/pricing` }),
        browserEvent('anon-2', 'identify', { traits: { email: 'dan@initech.io' } }),
        browserEvent('anon-2', 'page_view', { url: `${ORIGIN}/about` }),
      ],
    });
    expect((await leadByEmail(site, 'dan@initech.io'))?.scores.activity).toBe(25);
  });

  it('merges two visitors with the same e-mail into one lead', async () => {
    const site = await newSite();
    await collect({ site: site.siteKey, events: [browserEvent('laptop', 'page_view', { url: `${ORIGIN}/pricing` })] });
    await collect({ site: site.siteKey, events: [browserEvent('phone', 'page_view', { url: `${ORIGIN}/references` })] });
    await collect({ site: site.siteKey, events: [browserEvent('laptop', 'identify', { traits: { email: 'eve@hooli.io' } })] });
    await collect({ site: site.siteKey, events: [browserEvent('phone', 'identify', { traits: { email: 'EVE@hooli.io ' } })] });
    await collect({ site: site.siteKey, events: [browserEvent('phone', 'page_view', { url: `${ORIGIN}/` })] });
    expect(await rowCounts(site.id)).toMatchObject({ leads: 1, visitors: 2, events: 5 });
    const lead = await leadByEmail(site, 'eve@hooli.io');
    expect(lead?.scores.activity).toBe(20 + 15 + 5);
  });

  it('keeps scores right when requests for one lead race each other', async () => {
    const site = await newSite();
    await collect({ site: site.siteKey, events: [browserEvent('racer', 'identify', { traits: { email: 'fay@umbrella.io' } })] });
    const responses = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        collect({ site: site.siteKey, events: [browserEvent('racer', 'page_view', { url: `${ORIGIN}/p${i}` })] }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(12).fill(202));
    const lead = await leadByEmail(site, 'fay@umbrella.io');
    expect(lead?.scores.activity).toBe(60);
    const row = await env.DB.prepare('SELECT event_count FROM leads WHERE id = ?').bind(lead!.id).first<{ event_count: number }>();
    expect(row?.event_count).toBe(13);
  });
});
