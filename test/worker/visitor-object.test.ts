/**
 * Collect through visitors' Durable Objects (`VISITOR_INGEST`, worker/ingest/visitor-object.ts): a
 * browser's batch is ingested by its visitor's object, whose own memory recalls what the visitor's
 * last request wrote whatever isolate served the request; what is stored is what the direct path
 * stores.
 */
import { env } from 'cloudflare:workers';
import { createExecutionContext } from 'cloudflare:test';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import worker from '../../worker/index';
import { recall } from '../../worker/ingest/recall';
import { browserEvent, BROWSER_UA, leadByEmail, newSite, ORIGIN, rowCounts, siteState, type TestSite } from './helpers';

/**
 * Collect, metered, served by an isolate that recalls none of these visitors itself (its memory
 * cleared first): through the visitors' objects unless `direct`.
 */
async function send(site: TestSite, events: unknown[], { direct = false, read = false, keep = false } = {}) {
  if (!keep) recall.clear();
  const request = new Request('https://leadscore.test/v1/collect', {
    method: 'POST',
    headers: { origin: ORIGIN, 'user-agent': BROWSER_UA },
    body: JSON.stringify({ site: site.siteKey, events }),
  });
  const bindings = { ...env, D1_METERING: 'on', ...(direct ? {} : { VISITOR_INGEST: env.TEST_VISITOR_INGEST }), ...(read ? { INGEST_RECALL: 'off' } : {}) };
  const res = await worker.fetch(request, bindings, createExecutionContext());
  const rows = /^read=(\d+),written=(\d+),roundtrips=(\d+)$/.exec(res.headers.get('leadscore-d1-rows') ?? '');
  return {
    status: res.status,
    body: (await res.json()) as { accepted?: string[]; error?: { code: string } },
    trips: rows ? Number(rows[3]) : null,
    statements: res.headers.get('leadscore-d1-statements') ?? '',
  };
}

const view = (visitor: string, path: string) => browserEvent(visitor, 'page_view', { url: `${ORIGIN}${path}` });
const identify = (visitor: string, email: string) => browserEvent(visitor, 'identify', { traits: { email, jobTitle: 'Head of Marketing' } });
const outcome = async (site: TestSite, email: string) => {
  const lead = await leadByEmail(site, email);
  return lead && { scores: lead.scores, score: lead.score, band: lead.band, stage: lead.stage, profile: lead.profile, events: lead.timeline.filter((t) => t.kind === 'event').length };
};

describe("collect through visitors' Durable Objects", () => {
  it("writes a lead's page view in one round trip on an isolate that never served the visitor, and stores what the direct path stores", async () => {
    const [objects, direct] = [await newSite(), await newSite()];
    const journey = [[view('vo', '/')], [identify('vo', 'vo@initech.io')], [view('vo', '/pricing')], [view('vo', '/references')], [view('vo', '/pricing')]];
    for (const [i, events] of journey.entries()) {
      const o = await send(objects, events);
      const d = await send(direct, events, { direct: true });
      expect([o.status, d.status]).toEqual([202, 202]);
      expect(o.body.accepted).toEqual(d.body.accepted);
      if (i >= 2) {
        // The object wrote the lead last and recalls it: the write batch alone. The isolate that
        // served the direct request recalls nothing: the guessed batch, which finds the lead, then
        // the write.
        expect(o.trips).toBe(1);
        expect(o.statements).toMatch(/update leads/);
        expect(d.trips).toBe(2);
      }
    }
    expect(await rowCounts(objects.id)).toEqual(await rowCounts(direct.id));
    expect(await outcome(objects, 'vo@initech.io')).toEqual(await outcome(direct, 'vo@initech.io'));
  });

  it("redoes from a read a write whose recalled lead another browser of the lead changed since", async () => {
    const [objects, direct] = [await newSite(), await newSite()];
    // Two browsers of one person, each its own visitor and object: each object's memory of the lead
    // goes stale when the other writes it.
    const journey = [
      [identify('laptop', 'pat@initech.io')],
      [view('laptop', '/pricing')],
      [identify('phone', 'pat@initech.io')],
      [view('phone', '/references')],
      [view('laptop', '/pricing')],
      [view('phone', '/pricing')],
      [view('laptop', '/contact')],
    ];
    for (const events of journey) {
      const o = await send(objects, events);
      expect(o.status).toBe(202);
      expect((await send(direct, events, { direct: true })).status).toBe(202);
    }
    expect(await rowCounts(objects.id)).toEqual(await rowCounts(direct.id));
    const pat = await outcome(objects, 'pat@initech.io');
    expect(pat?.events).toBe(7);
    expect(pat).toEqual(await outcome(direct, 'pat@initech.io'));
  });

  it('sends a batch of several visitors, and answers a deleted site, as the direct path does', async () => {
    const site = await newSite();
    const mixed = await send(site, [view('m1', '/'), view('m2', '/pricing')]);
    expect(mixed.status).toBe(202);
    expect(mixed.body.accepted).toHaveLength(2);
    expect(mixed.statements).not.toBe('');

    // The isolate still holds the site (its cache), the object's write fails the site's foreign key.
    await send(site, [view('gone', '/')]);
    await env.DB.prepare('DELETE FROM sites WHERE id = ?').bind(site.id).run();
    const gone = await send(site, [view('gone', '/pricing')]);
    expect(gone.status).toBe(403);
    expect(gone.body.error?.code).toBe('unknown_site_key');
  });

  it('stores what reading first stores for any journey of two browsers, one person or two, each request through its object or not', async () => {
    // Two visitors who may identify as one person (two browsers of one lead) or as two; each request
    // one or two events, through its visitor's object or straight to an isolate that recalls the
    // visitor or not. What the objects recall goes stale whenever another path writes the lead.
    const request = fc.record({
      visitor: fc.constantFrom('b0', 'b1'),
      kind: fc.constantFrom('view', 'view', 'view+download', 'identify'),
      gapMinutes: fc.constantFrom(0, 1, 3, 11, 600),
      path: fc.constantFrom('object', 'object', 'isolate', 'elsewhere'),
    });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 10 }), fc.boolean(), async (journey, onePerson) => {
        const [objects, read] = [await newSite(), await newSite()];
        const prefix = `p${run++}-`;
        let ts = Date.now() - 3 * 86_400_000;
        for (const { visitor: v, kind, gapMinutes, path } of journey) {
          ts += gapMinutes * 60_000 + 1000;
          const visitor = prefix + v;
          const email = `${onePerson ? `${prefix}one` : visitor}@acme.io`;
          const events =
            kind === 'identify'
              ? [browserEvent(visitor, 'identify', { ts, traits: { email } })]
              : [
                  browserEvent(visitor, 'page_view', { ts, url: `${ORIGIN}/${v}` }),
                  ...(kind === 'view+download' ? [browserEvent(visitor, 'download', { ts: ts + 500, url: `${ORIGIN}/files/guide.pdf`, contentType: 'white_paper' })] : []),
                ];
          expect((await send(objects, events, { direct: path !== 'object', keep: path === 'isolate' })).status).toBe(202);
          expect((await send(read, events.map((e) => ({ ...e })), { direct: true, read: true })).status).toBe(202);
        }
        expect(await siteState(objects.id)).toEqual(await siteState(read.id));
      }),
      { numRuns: 20 },
    );
  });
});

