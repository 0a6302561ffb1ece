/**
 * Event batches as `POST /v1/collect` and `POST /v1/events` take them, valid in shape and hostile in
 * content, with one place broken or not; and the check that what a 202 accepted is stored as sent.
 */
import { env } from 'cloudflare:workers';
import fc from 'fast-check';
import { expect } from 'vitest';
import { hostileString, hostileText, mutate, mutation, objectOf } from './hostile';

/** Replaced in the body just before sending by a prefix unique to the run, so that ids never repeat. */
const ID = '\u2063id\u2063';
let nextId = 0;
export function withUniqueIds(text: string): { text: string; ids: string[] } {
  const ids: string[] = [];
  return { text: text.replaceAll(ID, () => (ids.push(`f${(++nextId).toString(36)}-`), ids[ids.length - 1]!)), ids };
}

const VISITORS = ['v1', 'v2', "v'3", 'v<4>', 'v\u00e9', 'v😀'];
/** E-mails a lead can have, hostile where an address allows it. */
const EMAILS = ['ada@acme.io', "o'neil@acme.io", 'x"--@acme.io', 'bob+<b>@acme.io', 'drop;table@acme.io', 'zoe%_@acme.io'];

const shortText = hostileText.map((s) => s.slice(0, 60));
const propKey = fc.oneof(fc.constantFrom('plan', "k'ey", '<b>', 'sélection', '😀', 'a.b', '$where'), shortText.filter((k) => k.length > 0));
const propValue = fc.oneof(shortText, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null));
const props = fc.array(fc.tuple(propKey, propValue), { maxLength: 4 }).map(objectOf);

/** One event of any type a browser or a server sends, every free text field hostile. */
export const event = (source: 'browser' | 'server') =>
  fc
    .record(
      {
        id: shortText.map((s) => `${ID}${s}`.slice(0, 60)),
        type: fc.constantFrom('page_view', 'page_view', 'download', 'form_submit', 'identify', 'email_open', 'email_click'),
        ts: fc.integer({ min: -3_600_000 * 24 * 30, max: 60_000 }).map((d) => Date.now() + d),
        visitor: fc.constantFrom(...VISITORS),
        url: fc.oneof(shortText.map((s) => `https://www.acme-shop.example/${s}`), shortText),
        title: hostileText,
        referrer: shortText,
        contentType: fc.constantFrom('white_paper', 'demo_request', 'Case_Study', "'; --", '<i>'),
        fields: fc.array(fc.tuple(fc.constantFrom('email', 'company', 'job_title', 'message', 'content_type'), shortText), { maxLength: 3 }).map(objectOf),
        traits: fc.record({ email: fc.constantFrom(...EMAILS), company: shortText, jobTitle: shortText }, { requiredKeys: ['email'] }),
        email: fc.constantFrom(...EMAILS),
        props,
      },
      { requiredKeys: source === 'browser' ? ['id', 'type', 'ts', 'visitor'] : ['id', 'type', 'ts'] },
    )
    .map((e) => objectOf(Object.entries(e)));

export interface Batch {
  value: unknown;
  /** Whether the value went through a mutation. */
  broken: boolean;
}

/** A batch of 1–3 events, then, seven times in eight, one place of it (any level) broken. */
export const batch = (site: string | undefined, source: 'browser' | 'server'): fc.Arbitrary<Batch> =>
  fc
    .tuple(fc.array(event(source), { minLength: 1, maxLength: 3 }), fc.option(mutation, { freq: 8 }))
    .map(([events, m]) => {
      const value = site === undefined ? { events } : { site, events };
      return m ? { value: mutate(value, m), broken: true } : { value, broken: false };
    });

/** Bodies that are not a batch at all: not JSON, not UTF-8, too big, too deep, too many events. */
export const brokenBody = (site: string): fc.Arbitrary<string | Uint8Array> =>
  fc.oneof(
    hostileString,
    fc.constantFrom('', 'null', '[]', '{}', '0', '"pk_"', '{"site":', '{"site": "pk_aaaaaaaa", "events": [}', '\ufeff{}'),
    fc.uint8Array({ maxLength: 40 }).map((b) => Uint8Array.from([0xff, 0xc3, ...b])),
    fc.constantFrom(1000, 30_000).map((d) => `{"site": ${JSON.stringify(site)}, "events": [${'['.repeat(d)}${']'.repeat(d)}]}`),
    fc.constantFrom(1000, 20_000).map((d) => `{"site": ${JSON.stringify(site)}, "events": [{"id": "x", "props": ${'{"a":'.repeat(d)}1${'}'.repeat(d)}}]}`),
    fc.constantFrom(101, 1000).map((n) => JSON.stringify({ site, events: Array.from({ length: n }, (_, i) => ({ id: `n${i}`, type: 'page_view', ts: Date.now(), visitor: 'v' })) })),
    fc.constantFrom(65 * 1024, 300 * 1024).map((n) => JSON.stringify({ site, events: [{ id: 'big', type: 'page_view', ts: Date.now(), visitor: 'v', title: 'x'.repeat(n) }] })),
  );

interface StoredEvent {
  id: string;
  visitor_id: string | null;
  type: string;
  ts: number;
  url: string | null;
  title: string | null;
  referrer: string | null;
  content_type: string | null;
  props: string | null;
}

const sortedJson = (o: Record<string, unknown>) => JSON.stringify(Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));

/**
 * After a 202: each accepted event is stored exactly as sent (text byte for byte, props as the same
 * JSON); each rejected one made for this request (`fresh`: the id prefixes it was given) is not
 * stored at all.
 */
export async function checkStored(siteId: string, sentText: string, answer: string, fresh: string[]) {
  const sent = (JSON.parse(sentText) as { events: Record<string, unknown>[] }).events;
  const result = JSON.parse(answer) as { accepted: string[]; duplicates: string[]; rejected: { index: number }[]; robot?: unknown };
  const rejectedIds = result.rejected.map((r) => sent[r.index]?.id).filter((id): id is string => typeof id === 'string');
  const ids = [...result.accepted, ...rejectedIds];
  if (!ids.length) return;
  const rows = (
    // What rules read (type, content type, props) is stored once per shape; the rest on the event.
    await env.DB.prepare(
      `SELECT e.id, e.visitor_id, s.type, e.ts, e.url, e.title, e.referrer, s.content_type, s.props
       FROM events e JOIN event_shapes s ON s.id = e.shape_id
       WHERE e.site_id = ? AND e.id IN (SELECT value FROM json_each(?))`,
    )
      .bind(siteId, JSON.stringify(ids))
      .all<StoredEvent>()
  ).results;
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const id of result.accepted) {
    const e = sent.find((x) => x.id === id)!;
    const row = byId.get(id);
    expect(row, `accepted ${JSON.stringify(id)} is not stored`).toBeDefined();
    const fields = e.fields as Record<string, string> | undefined;
    const contentType = (e.contentType as string | undefined) ?? fields?.content_type ?? null;
    // Props are stored in their shape with keys in one order (the shape's key): their order is no
    // part of what was sent, their keys and values are, byte for byte.
    const props = e.props && Object.keys(e.props).length ? sortedJson(e.props as Record<string, unknown>) : null;
    expect(
      { visitor: row!.visitor_id, type: row!.type, ts: row!.ts, url: row!.url, title: row!.title, referrer: row!.referrer, contentType: row!.content_type, props: row!.props && sortedJson(JSON.parse(row!.props) as Record<string, unknown>) },
      `stored event ${JSON.stringify(id)}`,
    ).toStrictEqual({
      visitor: (e.visitor as string | undefined) ?? null,
      type: e.type,
      ts: e.ts,
      url: (e.url as string | undefined) ?? null,
      title: (e.title as string | undefined) ?? null,
      referrer: (e.referrer as string | undefined) ?? null,
      contentType: contentType ? contentType.toLowerCase() : null,
      props,
    });
  }
  // Only ids made for this request are surely new: a mutation may have put in one stored before.
  const stray = rejectedIds.filter((id) => byId.has(id) && !result.accepted.includes(id) && fresh.some((p) => id.startsWith(p)));
  expect(stray, 'rejected events that were stored').toEqual([]);
}
