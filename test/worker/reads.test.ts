/**
 * The read paths' query plans, guarded by D1's own rows read (`D1_METERING=on`): a plan that falls
 * back to walking the site's leads or transitions reads some thousands of rows more than one served
 * from its indexes. Rows, never time: time on a shared machine says nothing.
 */
import { env } from 'cloudflare:workers';
import { createExecutionContext } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { SEARCH_CANDIDATES } from '../../worker/db/leads';
import worker from '../../worker/index';
import { encodeCursor } from '../../worker/lib/cursor';
import { newSite, type TestSite } from './helpers';

const LEADS = SEARCH_CANDIDATES + 400;

interface Summary {
  id: string;
  email: string;
  score: number;
}

async function metered(site: TestSite, path: string) {
  const request = new Request(`https://leadscore.test${path}`, { headers: { authorization: `Bearer ${site.apiKey}` } });
  const res = await worker.fetch(request, { ...env, D1_METERING: 'on' }, createExecutionContext());
  expect(res.status, path).toBe(200);
  const rows = /^read=(\d+),written=\d+,roundtrips=(\d+)$/.exec(res.headers.get('leadscore-d1-rows') ?? '')!;
  return { body: (await res.json()) as { leads: Summary[]; items: unknown[]; nextCursor: string | null }, read: Number(rows[1]), roundTrips: Number(rows[2]) };
}

describe('reads at a site of some thousands of leads', () => {
  let site: TestSite;
  // Every lead, as the list orders them: score descending, then id.
  let all: { id: string; email: string; score: number; band: string | null }[];

  beforeAll(async () => {
    site = await newSite();
    // Scores repeat (ties go by id), three bands and the excluded; nine e-mails in ten hold
    // "acmecorp", and each its own number. Written behind the scoring's back, as a seeded site would be.
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?2 - 1)
       INSERT INTO leads (id, site_id, email, profile, score, band, excluded_reason)
       SELECT printf('ld_r%05d', i), ?1, printf('buyer%d@%s%d.example', i, iif(i % 10 = 9, 'other', 'acmecorp'), i % 7),
              json_object('company', printf('Firm %d', i % 13)), (i * 37) % 500,
              CASE i % 4 WHEN 0 THEN 'hot' WHEN 1 THEN 'warm' WHEN 2 THEN 'cold' END, CASE WHEN i % 4 = 3 THEN 'internal' END
       FROM n`,
    )
      .bind(site.id, LEADS)
      .run();
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 2999)
       INSERT INTO transitions (site_id, seq, lead_id, type, from_value, to_value, cause, at)
       SELECT ?1, i + 1, printf('ld_r%05d', i % ?2), 'lead.band_changed', 'warm', 'hot', 'event', 1700000000000 + i FROM n`,
    )
      .bind(site.id, LEADS)
      .run();
    const { results } = await env.DB.prepare('SELECT id, email, score, band FROM leads WHERE site_id = ? ORDER BY score DESC, id').bind(site.id).all<(typeof all)[number]>();
    all = results;
  });

  const ids = (leads: { id: string }[]) => leads.map((l) => l.id);

  it('pages every lead by score through the bands, reading a few rows per band and page', async () => {
    const first = await metered(site, '/v1/leads?limit=50');
    expect(ids(first.body.leads)).toEqual(ids(all.slice(0, 50)));
    expect(first.roundTrips).toBe(1);
    // Four runs of about a page each, merged; a sort of the site would read every lead.
    expect(first.read).toBeLessThan(1000);

    // Far down the list, the cursor is sought in the index, not reached by reading every lead above it.
    const at = all[LEADS - 60]!;
    const cursor = encodeCursor([at.score, at.id]);
    const deep = await metered(site, `/v1/leads?limit=50&cursor=${cursor}`);
    expect(ids(deep.body.leads)).toEqual(ids(all.slice(LEADS - 59, LEADS - 9)));
    expect(deep.read).toBeLessThan(1000);
  });

  it('finds a rare term through the trigram index, reading its matches only', async () => {
    const { body, read } = await metered(site, '/v1/leads?q=buyer1234%40');
    expect(body.leads.map((l) => l.email)).toEqual(['buyer1234@acmecorp2.example']);
    expect(read).toBeLessThan(200);
  });

  it('sorts a term of some hundred matches out of those alone', async () => {
    // "firm 12": every 13th lead (the trigram index reads names too), a few hundred: fewer than
    // SEARCH_CANDIDATES.
    const expected = all.filter((_, k) => Number(all[k]!.id.slice(4)) % 13 === 12);
    expect(expected.length).toBeLessThan(SEARCH_CANDIDATES);
    const { body, read } = await metered(site, '/v1/leads?q=FIRM%2012&limit=50');
    expect(ids(body.leads)).toEqual(ids(expected.slice(0, 50)));
    // Each match read a few times over (the index, the lead, the sort); walking the bands instead
    // would read all the site's leads, and the index's answer once per band.
    expect(read).toBeLessThan(8 * expected.length);
  });

  it('walks the bands for a term most leads hold, and stops once a page is full', async () => {
    // More matches than SEARCH_CANDIDATES: the site's leads by score, each tested, instead.
    const expected = all.filter((l) => l.email.includes('@acmecorp'));
    expect(expected.length).toBeGreaterThan(SEARCH_CANDIDATES);
    const first = await metered(site, '/v1/leads?q=ACMECORP&limit=50');
    expect(ids(first.body.leads)).toEqual(ids(expected.slice(0, 50)));
    // The candidates counted up to one too many, then about a page per band: not the index's whole
    // answer once per band.
    expect(first.read).toBeLessThan(2 * (SEARCH_CANDIDATES + 1) + 1000);
    // Paged to the end, the walk skips the leads it does not match and repeats none.
    const seen: Summary[] = [];
    let cursor: string | null = null;
    do {
      const page = await metered(site, `/v1/leads?q=acmecorp&limit=200${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.leads);
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(ids(seen)).toEqual(ids(expected));
  });

  it('reads the changes feed by its index: a transition and its lead per item', async () => {
    const { body, read } = await metered(site, '/v1/changes?limit=100');
    expect(body.items).toHaveLength(100);
    expect(read).toBeLessThanOrEqual(2 * 100 + 10);
  });
});
