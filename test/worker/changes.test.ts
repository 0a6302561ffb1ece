import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { api, browserEvent, collect, newSite, ORIGIN, type TestSite } from './helpers';

const identify = (visitor: string, email: string, traits: Record<string, unknown> = {}) =>
  browserEvent(visitor, 'identify', { traits: { email, ...traits } });
const pages = (visitor: string, ...paths: string[]) => paths.map((p) => browserEvent(visitor, 'page_view', { url: `${ORIGIN}${p}` }));

interface Item {
  id: string;
  type: string;
  at: number;
  lead: { id: string; email: string; profile: Record<string, unknown>; band: string | null } | null;
  from: string | null;
  to: string | null;
  branch: string | null;
  cause: string;
}
interface Page {
  items: Item[];
  nextCursor: string;
  hasMore: boolean;
}

const feed = async (site: TestSite, query: string) => (await (await api(site, `/v1/changes${query}`)).json()) as Page;

/** A warm marketer who then reads the pricing page until hot. */
const warmThenHot = (site: TestSite, visitor: string, email: string) => [
  () => collect({ site: site.siteKey, events: [identify(visitor, email, { jobTitle: 'Marketing', firstName: 'Ada', company: 'Acme' })] }),
  () => collect({ site: site.siteKey, events: pages(visitor, '/pricing', '/pricing', '/pricing', '/pricing') }),
];

describe('the changes feed', () => {
  it('gives transitions oldest first with the lead, the branch to run and a stable id, and pages without gaps', async () => {
    const site = await newSite();
    for (const step of warmThenHot(site, 'v1', 'ada@acme.io')) await step();
    const all = await feed(site, '?limit=100');
    const bands = all.items.filter((i) => i.type === 'lead.band_changed');
    expect(bands.map((i) => [i.from, i.to, i.branch, i.cause])).toEqual([
      [null, 'warm', 'technical-content', 'event'],
      ['warm', 'hot', 'sales-meeting', 'event'],
    ]);
    expect(bands[1]!.lead).toMatchObject({ email: 'ada@acme.io', band: 'hot', profile: { firstName: 'Ada', company: 'Acme', jobTitle: 'Marketing' } });
    expect(all.items.map((i) => i.at)).toEqual([...all.items.map((i) => i.at)].sort((a, b) => a - b));

    // One at a time, the same items; an empty page keeps the cursor for the next poll.
    const seen: string[] = [];
    let cursor = '';
    for (;;) {
      const page = await feed(site, `?limit=1${cursor ? `&after=${cursor}` : ''}`);
      seen.push(...page.items.map((i) => i.id));
      // A full page may have more behind it; a short one has none.
      expect(page.hasMore).toBe(page.items.length === 1);
      if (page.items.length === 0) {
        expect(page.nextCursor).toBe(cursor);
        break;
      }
      cursor = page.nextCursor;
    }
    expect(seen).toEqual(all.items.map((i) => i.id));
    expect(all.hasMore).toBe(false);
    expect((await api(site, '/v1/changes?limit=0')).status).toBe(400);
    expect((await api(site, '/v1/changes?after=nonsense')).status).toBe(400);
  });

  it('never skips nor repeats an item while writers land concurrently', async () => {
    const site = await newSite();
    const writers = Array.from({ length: 12 }, (_, i) => warmThenHot(site, `cv${i}`, `c${i}@acme.io`));
    const seen: string[] = [];
    let cursor = '';
    let done = false;
    const reader = (async () => {
      for (;;) {
        const finished = done;
        const page = await feed(site, `?limit=2${cursor ? `&after=${cursor}` : ''}`);
        seen.push(...page.items.map((i) => i.id));
        cursor = page.nextCursor;
        // Stop only after a read that began once every writer was done came back empty.
        if (finished && page.items.length === 0) return;
      }
    })();
    await Promise.all(writers.map(async ([first, second]) => (await first!(), await second!())));
    done = true;
    await reader;
    const { n } = (await env.DB.prepare('SELECT count(*) AS n FROM transitions WHERE site_id = ?').bind(site.id).first<{ n: number }>())!;
    expect(n).toBeGreaterThanOrEqual(24);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toHaveLength(n);
  });

  it("shows a site's changes to its own key only", async () => {
    const a = await newSite();
    const b = await newSite();
    for (const step of warmThenHot(a, 'va', 'gil@acme.io')) await step();
    expect((await feed(a, '')).items.length).toBeGreaterThan(0);
    expect((await feed(b, '')).items).toEqual([]);
  });
});

describe('bands: members and branch triggers', () => {
  it('pages a band by score and runs its branch once per Idempotency-Key', async () => {
    const site = await newSite();
    for (let i = 0; i < 5; i++) {
      await collect({ site: site.siteKey, events: [identify(`m${i}`, `m${i}@acme.io`, { jobTitle: 'Marketing' }), ...pages(`m${i}`, ...Array(i).fill('/x'))] });
    }
    await collect({ site: site.siteKey, events: [identify('c0', 'cold@acme.io')] });
    const members: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await api(site, `/v1/bands/warm/members?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { members: { email: string }[]; nextCursor: string | null };
      members.push(...body.members.map((m) => m.email));
      cursor = body.nextCursor;
    } while (cursor);
    expect(members).toEqual([4, 3, 2, 1, 0].map((i) => `m${i}@acme.io`));
    expect((await api(site, '/v1/bands/lukewarm/members')).status).toBe(404);

    const trigger = (band: string, key?: string) =>
      api(site, `/v1/bands/${band}/trigger`, { method: 'POST', headers: key ? { 'idempotency-key': key } : {} });
    const first = await trigger('warm', 'campaign-2026-11');
    expect(first.status).toBe(202);
    const created = (await first.json()) as { trigger: { id: string; count: number; branch: string }; replayed: boolean };
    expect(created).toMatchObject({ trigger: { count: 5, branch: 'technical-content' }, replayed: false });
    const again = await trigger('warm', 'campaign-2026-11');
    expect(again.status).toBe(200);
    expect(((await again.json()) as { trigger: { id: string }; replayed: boolean })).toMatchObject({ trigger: { id: created.trigger.id }, replayed: true });
    expect((await trigger('cold', 'campaign-2026-11')).status).toBe(409);
    expect((await trigger('lukewarm', 'k2')).status).toBe(404);

    const triggered = (await feed(site, '?limit=1000')).items.filter((i) => i.type === 'branch.triggered');
    expect(triggered.map((i) => i.lead!.email)).toEqual(members);
    expect(new Set(triggered.map((i) => [i.to, i.branch, i.cause].join()))).toEqual(new Set(['warm,technical-content,trigger']));

    // Without a key, as SPEC writes the call: each call runs the branch again, a trigger of its own.
    const plain = await Promise.all([trigger('warm'), trigger('warm')]);
    expect(plain.map((r) => r.status)).toEqual([202, 202]);
    const [one, two] = (await Promise.all(plain.map((r) => r.json()))) as { trigger: { id: string; count: number }; replayed: boolean }[];
    expect(one).toMatchObject({ trigger: { count: 5 }, replayed: false });
    expect(two!.trigger.id).not.toBe(one!.trigger.id);
    const after = (await feed(site, '?limit=1000')).items.filter((i) => i.type === 'branch.triggered');
    expect(after.map((i) => i.lead!.email)).toEqual([...members, ...members, ...members]);
  });
});
