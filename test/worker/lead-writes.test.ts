/**
 * The lead writer's guard (worker/leads/write.ts) when leads are found by rowid, as a recompute
 * finds them: a write lands only on the lead it was computed for, at the rev it was read at.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { HISTORY_MAX, packHistory, parseHistory, type AddedEvent, type StoredEvent } from '../../worker/db/lead-history';
import { runBatch } from '../../worker/db/statements';
import { conflictGuard, isWriteConflict, leadWrites, type LeadRow, type StoredLead } from '../../worker/leads/write';
import { rescore } from '../../worker/leads/rescore';
import { DEFAULT_MODEL } from '../../worker/scoring/default-model';
import { browserEvent, collect, newSite, ORIGIN } from './helpers';

async function aLead() {
  const site = await newSite();
  await collect({ site: site.siteKey, events: [browserEvent('w', 'identify', { traits: { email: 'w@acme.io' } }), browserEvent('w', 'page_view', { url: `${ORIGIN}/pricing` })] });
  const row = await env.DB.prepare('SELECT rowid, id, site_id AS siteId, rev, score, band, next_change_at AS nextChangeAt, history_pages AS historyPages FROM leads WHERE site_id = ?')
    .bind(site.id)
    .first<StoredLead & { rowid: number }>();
  return row!;
}

const refused = (promise: Promise<unknown>) =>
  promise.then(
    () => false,
    (err) => isWriteConflict(err),
  );

describe('lead writes by rowid', () => {
  it('pass the guard only for the same lead at the same rev', async () => {
    const lead = await aLead();
    expect(await refused(runBatch(env.DB, [conflictGuard([lead])]))).toBe(false);
    expect(await refused(runBatch(env.DB, [conflictGuard([{ ...lead, rev: lead.rev + 1 }])]))).toBe(true);
    // The rowid now another lead's (the lead read was erased, a new one took its rowid) with the
    // same rev by chance: still refused.
    expect(await refused(runBatch(env.DB, [conflictGuard([{ ...lead, id: 'ld_erased_meanwhile' }])]))).toBe(true);
    // Gone altogether.
    expect(await refused(runBatch(env.DB, [conflictGuard([{ ...lead, rowid: 2 ** 40 }])]))).toBe(true);
  });

  it('update the lead at that rowid, and only it', async () => {
    const lead = await aLead();
    const other = await aLead();
    const now = Date.now();
    const rescored = rescore({ ...DEFAULT_MODEL, profileRules: [] }, 7, { band: lead.band, stage: 'prospect', excludedReason: null, recycledAt: null, nextChangeAt: null }, [], {}, now);
    const statements = leadWrites([{ row: lead, isNew: false, rescored }], 'recompute');
    // The statements find the lead by rowid, not through the index on id: one lead bound as it is.
    expect(statements.map((s) => s.sql).join('\n')).toMatch(/WHERE rowid = \? AND id = \? AND rev = \?\s*$/m);
    await runBatch(env.DB, statements);
    const after = await env.DB.prepare('SELECT id, model_version, rev, score FROM leads WHERE id IN (?, ?)').bind(lead.id, other.id).all<{ id: string; model_version: number; rev: number; score: number }>();
    const byId = new Map(after.results.map((r) => [r.id, r]));
    expect(byId.get(lead.id)).toMatchObject({ model_version: 7, rev: lead.rev + 1, score: 0 });
    expect(byId.get(other.id)).toMatchObject({ model_version: 0, rev: other.rev, score: other.score });
    // Written again from the same read: refused, the rev moved.
    expect(await refused(runBatch(env.DB, leadWrites([{ row: lead, isNew: false, rescored }], 'recompute')))).toBe(true);
  });
});

describe('updates refuse their batch', () => {
  it('when a lead changed since read, was erased, or another lead took its rowid: one lead or several, in one statement or several, found by rowid or id, a profile written or not', async () => {
    const now = Date.now();
    const rescored = (lead: StoredLead) => rescore(DEFAULT_MODEL, 5, { band: lead.band, stage: 'prospect', excludedReason: null, recycledAt: null, nextChangeAt: null }, [], {}, now);
    // `split`: a JSON parameter too small for two leads, so that each lead has its UPDATE (and its
    // check or guard), the stale one in the second.
    const writes = (rows: StoredLead[], profile: LeadRow['profile'] | undefined, split: boolean) =>
      leadWrites(rows.map((row) => ({ row, isNew: false as const, rescored: rescored(row), ...(profile ? { profile } : {}) })), 'recompute', split ? 10 : undefined);
    const cases = [undefined, { jobTitle: 'CMO' }].flatMap((profile) =>
      [false, true].flatMap((several) => [true, false].flatMap((byRowid) => (several ? [false, true] : [false]).map((split) => ({ profile, several, byRowid, split })))),
    );
    for (const { profile, several, byRowid, split } of cases) {
      const found = (lead: StoredLead): StoredLead => (byRowid ? lead : { ...lead, rowid: undefined });
      const [a, b] = [found(await aLead()), found(await aLead())];
      const rows = (stale: StoredLead) => (several ? [a, stale] : [stale]);
      const statements = writes(rows(b), profile, split);
      expect(statements.filter((st) => st.sql.startsWith('UPDATE leads'))).toHaveLength(split ? 2 : 1);
      expect(statements.filter((st) => st.check)).toHaveLength(split ? 2 : 1);
      const batchFor = (leads: StoredLead[]) => writes(leads, profile, split);
      // Changed since read: its rev moved.
      expect(await refused(runBatch(env.DB, batchFor(rows({ ...b, rev: b.rev - 1 }))))).toBe(true);
      // Its rowid now another lead's, at the same rev by chance (found by id: no such lead).
      expect(await refused(runBatch(env.DB, batchFor(rows({ ...b, id: 'ld_erased_meanwhile' }))))).toBe(true);
      // Gone altogether.
      expect(await refused(runBatch(env.DB, batchFor(rows(byRowid ? { ...b, rowid: 2 ** 40 } : { ...b, id: 'ld_gone' }))))).toBe(true);
      // Nothing was written by the refused batches; as read, the batch goes through and writes them all.
      const revs = () => env.DB.prepare('SELECT rev FROM leads WHERE id IN (?, ?) ORDER BY id').bind(a.id, b.id).all<{ rev: number }>();
      const sorted = [a, b].sort((x, y) => (x.id < y.id ? -1 : 1));
      expect((await revs()).results.map((r) => r.rev)).toEqual(sorted.map((l) => l.rev));
      expect(await refused(runBatch(env.DB, statements))).toBe(false);
      expect((await revs()).results.map((r) => r.rev)).toEqual(sorted.map((l) => (several || l === b ? l.rev + 1 : l.rev)));
    }
  });
});

describe('profiles written', () => {
  it('keep the guard before their UPDATE: a batch that gives two known leads new traits goes through', async () => {
    const site = await newSite();
    const identify = (visitor: string, traits: Record<string, string> = {}) => browserEvent(visitor, 'identify', { traits: { email: `${visitor}@acme.io`, ...traits } });
    await collect({ site: site.siteKey, events: [identify('pa'), identify('pb')] });
    // One UPDATE of both leads, their profiles new: checked after it, changes() counted FTS5's
    // pending terms written, not the two leads, and every attempt was refused (503).
    const res = await collect({ site: site.siteKey, events: [identify('pa', { company: 'Acme' }), identify('pb', { company: 'Acme' })] });
    expect(res.status).toBe(202);
    const stored = await env.DB.prepare(`SELECT count(*) AS n FROM leads WHERE site_id = ? AND profile ->> '$.company' = 'Acme'`).bind(site.id).first<number>('n');
    expect(stored).toBe(2);
  });
});

describe('updates of existing leads', () => {
  it('write one lead, bound as it is, exactly as the set-based statement writes several', async () => {
    const site = await newSite();
    await collect({ site: site.siteKey, events: [browserEvent('s', 'page_view', { url: `${ORIGIN}/pricing` })] });
    const shape = await env.DB.prepare('SELECT id FROM event_shapes WHERE site_id = ?').bind(site.id).first<number>('id');
    for (const n of [1, 2, 3]) await collect({ site: site.siteKey, events: [browserEvent(`u${n}`, 'identify', { traits: { email: `u${n}@acme.io` } })] });
    const { results: stored } = await env.DB.prepare('SELECT rowid, id, site_id AS siteId, rev, score, band, next_change_at AS nextChangeAt, history_pages AS historyPages FROM leads WHERE site_id = ? ORDER BY email')
      .bind(site.id)
      .all<StoredLead & { rowid: number }>();
    const now = Date.now();
    const profile = { name: 'Zoë «Ω»', note: 'a "quoted" \\ line\nbreak', size: 0.5 };
    const rescored = rescore(DEFAULT_MODEL, 4, { band: stored[0]!.band, stage: 'prospect', excludedReason: null, recycledAt: null, nextChangeAt: null }, [{ id: 'e', ts: now - 5, type: 'page_view', url: `${ORIGIN}/pricing` }], profile, now);
    const write = (row: StoredLead) => ({ row, isNew: false as const, rescored, profile, history: { kept: [{ ts: now - 9, shapeId: shape! }, { ts: now - 5, shapeId: shape! }], added: [], pages: 0 } });
    const one = leadWrites([write(stored[0]!)], 'event');
    const several = leadWrites([write(stored[1]!), write(stored[2]!)], 'event');
    expect(one.find((s) => s.sql.startsWith('UPDATE'))!.sql).not.toMatch(/json_each/);
    expect(several.find((s) => s.sql.startsWith('UPDATE'))!.sql).toMatch(/json_each/);
    await runBatch(env.DB, [...one, ...several]);
    const { results } = await env.DB.prepare('SELECT * FROM leads WHERE site_id = ? ORDER BY email').bind(site.id).all<Record<string, unknown>>();
    const written = results.map(({ id: _, email: __, created_at: ___, ...columns }) => columns);
    expect(written[0]).toMatchObject({ profile: JSON.stringify(profile), history: `${now - 9}:${shape},${now - 5}:${shape}`, model_version: 4, rev: 1 });
    expect(written[1]).toEqual(written[0]);
    expect(written[2]).toEqual(written[0]);
  });
});

describe('columns an update leaves out', () => {
  it('are the stage, exclusion and event tally that stay as the writer read them; those that change are written', async () => {
    const [a, b, c] = [await aLead(), await aLead(), await aLead()];
    const now = Date.now();
    const rescored = rescore({ ...DEFAULT_MODEL, profileRules: [], exclusions: [] }, 3, { band: a.band, stage: 'prospect', excludedReason: null, recycledAt: null, nextChangeAt: null }, [], {}, now);
    // As read: what the rescore gives for a and c, another stage and tally for b.
    const same = { stage: rescored.values.stage, excludedReason: null, eventCount: 0, lastEventAt: null };
    const rows = [{ ...a, ...same }, { ...b, stage: 'mql', excludedReason: null, eventCount: 5, lastEventAt: 1 }, { ...c, ...same }];
    // Since the read, the rows changed without their rev (what no writer does): what the update
    // leaves out stays as it now is, what it writes replaces it.
    await env.DB.prepare(`UPDATE leads SET stage = 'customer', event_count = 99 WHERE id IN (?, ?, ?)`).bind(a.id, b.id, c.id).run();
    const one = leadWrites([{ row: rows[0]!, isNew: false, rescored }], 'recompute');
    const several = leadWrites(rows.slice(1).map((row) => ({ row, isNew: false as const, rescored })), 'recompute');
    expect(one.find((st) => st.sql.startsWith('UPDATE'))!.sql).not.toMatch(/stage|event_count/);
    await runBatch(env.DB, [...one, ...several]);
    const { results } = await env.DB.prepare('SELECT id, stage, event_count, model_version FROM leads WHERE id IN (?, ?, ?)').bind(a.id, b.id, c.id).all<{ id: string; stage: string; event_count: number; model_version: number }>();
    const byId = new Map(results.map(({ id, ...r }) => [id, r]));
    expect(byId.get(a.id)).toEqual({ stage: 'customer', event_count: 99, model_version: 3 });
    expect(byId.get(b.id)).toEqual({ stage: rescored.values.stage, event_count: 0, model_version: 3 });
    expect(byId.get(c.id)).toEqual({ stage: 'customer', event_count: 99, model_version: 3 });
  });
});

describe('new leads', () => {
  it('are inserted whole, several in one statement: profile as JSON, history packed with the ids their shapes have', async () => {
    const site = await newSite();
    // A shape of the site, as a page view of /pricing stores it.
    await collect({ site: site.siteKey, events: [browserEvent('s', 'page_view', { url: `${ORIGIN}/pricing` })] });
    const shape = await env.DB.prepare('SELECT id, key FROM event_shapes WHERE site_id = ?').bind(site.id).first<{ id: number; key: string }>();
    const now = Date.now();
    const model = { ...DEFAULT_MODEL, profileRules: [] };
    const lead = (n: number, profile: LeadRow['profile']): LeadRow => ({
      id: `ld_new${n}`, siteId: site.id, email: `n${n}@acme.io`, profile, fit: 0, activity: 0, engagement: 0, score: 0, band: null,
      stage: 'prospect', excludedReason: null, rev: 0, eventCount: 0, lastEventAt: null, scoredAt: null, modelVersion: 0,
      nextChangeAt: null, recycledAt: null, history: '', historyPages: 0, createdAt: now - 1, updatedAt: now - 1,
    });
    const profile = { name: 'Zoë «Ω» 🚀', companySize: 0.1 + 0.2, optIn: true, note: 'a "quoted" \\ line\nbreak' };
    const rescored = rescore(model, 3, null, [{ id: 'e', ts: now - 5, type: 'page_view', url: `${ORIGIN}/pricing` }], profile, now);
    const statements = leadWrites(
      [
        { row: lead(1, {}), isNew: true, rescored, profile, history: { kept: [{ ts: now - 9, shapeId: shape!.id }], added: [[now - 5, shape!.key]], pages: 0 } },
        { row: lead(2, { plain: 'x' }), isNew: true, rescored },
      ],
      'event',
    );
    expect(statements.filter((s) => s.sql.startsWith('INSERT INTO leads'))).toHaveLength(1);
    await runBatch(env.DB, statements);
    const { results } = await env.DB.prepare('SELECT * FROM leads WHERE site_id = ? AND id LIKE ? ORDER BY id').bind(site.id, 'ld_new%').all<Record<string, unknown>>();
    // Every column, so that a value put in another column's place shows.
    const v = rescored.values;
    const scored = {
      site_id: site.id, fit: v.fit, activity: v.activity, engagement: v.engagement, score: v.score, band: v.band, stage: v.stage,
      excluded_reason: v.excludedReason, rev: 0, event_count: 1, last_event_at: now - 5, scored_at: now, model_version: 3,
      next_change_at: v.nextChangeAt, recycled_at: null, history_pages: 0, created_at: now - 1, updated_at: now,
    };
    expect(results).toEqual([
      { ...scored, id: 'ld_new1', email: 'n1@acme.io', profile: JSON.stringify(profile), history: `${now - 9}:${shape!.id},${now - 5}:${shape!.id}` },
      { ...scored, id: 'ld_new2', email: 'n2@acme.io', profile: '{"plain":"x"}', history: '' },
    ]);
    expect(JSON.parse(results[0]!.profile as string)).toEqual(profile);
  });

  it('are inserted in as many statements as their JSON needs, with their transitions, none lost, in order', async () => {
    const site = await newSite();
    const now = Date.now();
    const model = { ...DEFAULT_MODEL, profileRules: [] };
    const rescored = rescore(model, 3, null, [{ id: 'e', ts: now - 5, type: 'page_view', url: `${ORIGIN}/pricing` }], {}, now);
    expect(rescored.transitions.length).toBeGreaterThan(0);
    // More transitions than are bound one value a parameter, so that they go as JSON too.
    const n = 16;
    const items = Array.from({ length: n }, (_, i) => ({
      row: {
        id: `ld_part${String(i).padStart(2, '0')}`, siteId: site.id, email: `p${i}@acme.io`, profile: {}, fit: 0, activity: 0, engagement: 0, score: 0,
        band: null, stage: 'prospect', excludedReason: null, rev: 0, eventCount: 0, lastEventAt: null, scoredAt: null, modelVersion: 0,
        nextChangeAt: null, recycledAt: null, history: '', historyPages: 0, createdAt: now - 1, updatedAt: now - 1,
      } satisfies LeadRow,
      isNew: true as const,
      rescored,
    }));
    const whole = leadWrites(items, 'event');
    const split = leadWrites(items, 'event', 400);
    const count = (statements: typeof whole, start: string) => statements.filter((st) => st.sql.trimStart().startsWith(start)).length;
    expect([count(whole, 'INSERT INTO leads'), count(whole, 'INSERT INTO transitions')]).toEqual([1, 1]);
    expect(count(split, 'INSERT INTO leads')).toBeGreaterThan(2);
    expect(count(split, 'INSERT INTO transitions')).toBeGreaterThan(1);
    await runBatch(env.DB, split);
    const leads = await env.DB.prepare('SELECT id FROM leads WHERE site_id = ? ORDER BY id').bind(site.id).all<{ id: string }>();
    expect(leads.results.map((r) => r.id)).toEqual(items.map((i) => i.row.id));
    const moves = await env.DB.prepare('SELECT seq, lead_id AS lead, type, to_value AS "to" FROM transitions WHERE site_id = ? ORDER BY seq').bind(site.id).all();
    // Numbered on from the site's newest, statement after statement: 1, 2, 3… with no gap.
    expect(moves.results).toEqual(items.flatMap((i) => rescored.transitions.map((t) => ({ lead: i.row.id, type: t.type, to: t.to }))).map((m, k) => ({ seq: k + 1, ...m })));
  });
});

describe('histories past the row', () => {
  it("page the row's events, keep the stored pages, and are paged anew when taken back whole", async () => {
    const lead = await aLead();
    const { id: shape, key } = (await env.DB.prepare('SELECT id, key FROM event_shapes WHERE site_id = ?').bind(lead.siteId).first<{ id: number; key: string }>())!;
    const now = Date.now();
    const events = (n: number, from: number): StoredEvent[] => Array.from({ length: n }, (_, i) => ({ ts: from + i, shapeId: shape }));
    const stored = async () => {
      const row = (await env.DB.prepare('SELECT rowid, id, site_id AS siteId, rev, score, band, next_change_at AS nextChangeAt, history_pages AS historyPages, history FROM leads WHERE id = ?')
        .bind(lead.id)
        .first<StoredLead & { rowid: number; history: string }>())!;
      const { results } = await env.DB.prepare('SELECT page, history FROM lead_history_pages WHERE lead_id = ? ORDER BY page').bind(lead.id).all<{ page: number; history: string }>();
      return { row, pages: results.map((p) => ({ page: p.page, events: parseHistory(p.history) })) };
    };
    const write = async (kept: StoredEvent[], added: AddedEvent[], pages: number) => {
      const { row } = await stored();
      const rescored = rescore({ ...DEFAULT_MODEL, profileRules: [] }, 1, { band: row.band, stage: 'prospect', excludedReason: null, recycledAt: null, nextChangeAt: null }, [], {}, now);
      await runBatch(env.DB, leadWrites([{ row, isNew: false, rescored, history: { kept, added, pages } }], 'event'));
      return stored();
    };

    // A full row, then two events added by key: the row's events move to page 0.
    const first = events(HISTORY_MAX, 0);
    let at = await write(first, [], 0);
    expect(at.row).toMatchObject({ historyPages: 0, history: packHistory(first) });
    at = await write(first, [[10_000, key], [10_001, key]], 0);
    expect(at.row).toMatchObject({ historyPages: 1, history: `10000:${shape},10001:${shape}` });
    expect(at.pages).toEqual([{ page: 0, events: first }]);
    // The next write keeps the page as it is and adds to the row.
    at = await write(parseHistory(at.row.history), [[10_002, key]], 1);
    expect(at.row).toMatchObject({ historyPages: 1, history: `10000:${shape},10001:${shape},10002:${shape}` });
    expect(at.pages).toEqual([{ page: 0, events: first }]);

    // Taken back whole (a robot's events set aside): paged again from page 0.
    const whole = events(2 * HISTORY_MAX + 1, 20_000);
    at = await write(whole, [], 0);
    expect(at.row).toMatchObject({ historyPages: 2, history: packHistory(whole.slice(-1)) });
    expect(at.pages.map((p) => p.page)).toEqual([0, 1]);
    expect(at.pages.flatMap((p) => p.events)).toEqual(whole.slice(0, -1));
    // Taken back to a few events: no page left.
    at = await write(events(3, 50_000), [], 0);
    expect(at.row).toMatchObject({ historyPages: 0, history: packHistory(events(3, 50_000)) });
    expect(at.pages).toEqual([]);
    // Set-based, as a batch of several leads writes: the same layout.
    const other = await aLead();
    const rows = await Promise.all(
      [lead.id, other.id].map((id) =>
        env.DB.prepare('SELECT rowid, id, site_id AS siteId, rev, score, band, next_change_at AS nextChangeAt, history_pages AS historyPages FROM leads WHERE id = ?').bind(id).first<StoredLead>(),
      ),
    );
    const rescored = rescore({ ...DEFAULT_MODEL, profileRules: [] }, 1, null, [], {}, now);
    const big = events(HISTORY_MAX, 60_000);
    const statements = leadWrites(
      [
        { row: rows[0]!, isNew: false, rescored, history: { kept: big, added: [[70_000, key]], pages: 0 } },
        { row: rows[1]!, isNew: false, rescored },
      ],
      'event',
    );
    expect(statements.find((s) => s.sql.startsWith('UPDATE'))!.sql).toMatch(/json_each/);
    await runBatch(env.DB, statements);
    at = await stored();
    expect(at.row).toMatchObject({ historyPages: 1, history: `70000:${shape}` });
    expect(at.pages).toEqual([{ page: 0, events: big }]);
    expect(await env.DB.prepare('SELECT history_pages FROM leads WHERE id = ?').bind(other.id).first('history_pages')).toBe(0);
    // An erased lead takes its pages along.
    await env.DB.prepare('DELETE FROM leads WHERE id = ?').bind(lead.id).run();
    expect(await env.DB.prepare('SELECT count(*) AS n FROM lead_history_pages WHERE lead_id = ?').bind(lead.id).first('n')).toBe(0);
  });
});
