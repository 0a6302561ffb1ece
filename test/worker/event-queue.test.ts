import { env } from 'cloudflare:workers';
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { EventsMessage } from '../../worker/ingest/event-queue';
import worker from '../../worker/index';
import { browserEvent, BROWSER_UA, collect, leadByEmail, newSite, ORIGIN, rowCounts, type TestSite } from './helpers';

/** Collect with the `EVENTS` queue bound: the queue path, consumed by this workerd's own consumer. */
async function collectQueued(site: TestSite, events: unknown[]) {
  const request = new Request('https://leadscore.test/v1/collect', {
    method: 'POST',
    headers: { origin: ORIGIN, 'user-agent': BROWSER_UA },
    body: JSON.stringify({ site: site.siteKey, events }),
  });
  return worker.fetch(request, { ...env, EVENTS: env.TEST_EVENTS }, createExecutionContext());
}

async function eventually<T>(read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const v = await read();
    if (done(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs the queue handler on messages as the runtime would deliver them, and answers what it acked. */
async function consume(bodies: unknown[], attempts = 1) {
  const batch = createMessageBatch('leadscore-events', bodies.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts, body })));
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  return getQueueResult(batch, ctx);
}

const journey = (visitor: string, email: string) => [
  browserEvent(visitor, 'page_view', { url: `${ORIGIN}/pricing` }),
  browserEvent(visitor, 'download', { url: `${ORIGIN}/files/guide.pdf`, contentType: 'white_paper' }),
  browserEvent(visitor, 'identify', { traits: { email, jobTitle: 'Head of Marketing', companySize: 250 } }),
];

describe('the queue path of collect', () => {
  it('answers once the events are queued, and scores them exactly as the direct path does', async () => {
    const [queued, direct] = [await newSite(), await newSite()];
    const events = journey('qv1', 'ana@acme.io');
    const res = await collectQueued(queued, [...events, { id: 'bad' }]);
    expect(res.status).toBe(202);
    const answer = (await res.json()) as { accepted: string[]; queued: boolean; rejected: unknown[] };
    expect(answer).toMatchObject({ accepted: events.map((e) => e.id), duplicates: [], queued: true });
    expect(answer.rejected).toHaveLength(1);

    expect((await collect({ site: direct.siteKey, events })).status).toBe(202);
    const fromQueue = await eventually(() => leadByEmail(queued, 'ana@acme.io'), (l) => l !== undefined);
    const fromRequest = await leadByEmail(direct, 'ana@acme.io');
    const outcome = (l: typeof fromQueue) => l && { scores: l.scores, score: l.score, band: l.band, stage: l.stage, breakdown: l.breakdown };
    expect(outcome(fromQueue)).toEqual(outcome(fromRequest));
    expect(await rowCounts(queued.id)).toEqual(await rowCounts(direct.id));
  });

  it('still refuses at once what the direct path refuses, and queues nothing for it', async () => {
    const site = await newSite();
    const foreign = new Request('https://leadscore.test/v1/collect', {
      method: 'POST',
      headers: { origin: 'https://elsewhere.example', 'user-agent': BROWSER_UA },
      body: JSON.stringify({ site: site.siteKey, events: journey('qv2', 'bob@acme.io') }),
    });
    expect((await worker.fetch(foreign, { ...env, EVENTS: env.TEST_EVENTS }, createExecutionContext())).status).toBe(403);
    expect((await collectQueued(site, [{ id: 'x' }])).status).toBe(400);
    await new Promise((r) => setTimeout(r, 500));
    expect(await rowCounts(site.id)).toMatchObject({ events: 0, visitors: 0 });
  });

  it('scores many messages of a site in one go: a duplicate counted once, an identify in a later message taking the earlier ones', async () => {
    const site = await newSite();
    const [view, download, identify] = journey('qv3', 'cy@acme.io');
    const message = (events: unknown[]): EventsMessage => ({ kind: 'events', siteId: site.id, events: events as EventsMessage['events'] });
    const result = await consume([message([view]), message([download, view]), message([identify]), { kind: 'events', siteId: 42 }, message([view])]);
    expect(result.explicitAcks.sort()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(result.retryMessages).toEqual([]);
    expect(await rowCounts(site.id)).toMatchObject({ events: 3, visitors: 1, leads: 1 });
    expect((await leadByEmail(site, 'cy@acme.io'))?.breakdown.length).toBeGreaterThan(0);
    // A message for a site deleted since is dropped, not retried for ever.
    expect((await consume([{ kind: 'events', siteId: 'no-such-site', events: [view] }])).explicitAcks).toEqual(['m0']);
  });

  it('retries the messages of a site whose scoring fails, acks the other sites', async () => {
    const [broken, fine] = [await newSite(), await newSite()];
    // A fault the consumer cannot get past: the site's stored model is unreadable.
    await env.DB.prepare(`INSERT INTO models (site_id, version, document, created_at) VALUES (?, 1, '{"broken": true}', 0)`).bind(broken.id).run();
    const events = (visitor: string) => [browserEvent(visitor, 'page_view', { url: `${ORIGIN}/pricing` })];
    const result = await consume(
      [
        { kind: 'events', siteId: broken.id, events: events('qv4') },
        { kind: 'events', siteId: fine.id, events: events('qv5') },
      ],
      3,
    );
    expect(result.explicitAcks).toEqual(['m1']);
    expect(result.retryMessages.map((m: { msgId: string }) => m.msgId)).toEqual(['m0']);
    expect(await rowCounts(broken.id)).toMatchObject({ events: 0 });
    expect(await rowCounts(fine.id)).toMatchObject({ events: 1 });
  });
});
