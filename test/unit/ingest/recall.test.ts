import { beforeEach, describe, expect, it } from 'vitest';
import { HISTORY_MAX } from '../../../worker/db/lead-history';
import { MAX_RECALLED_EVENTS, recall } from '../../../worker/ingest/recall';
import type { LeadRow } from '../../../worker/leads/write';

const visitor = { leadId: null, paceStart: 1, paceCount: 1, robotSince: null };
const row = (id: string, historyPages = 0) => ({ id, historyPages }) as LeadRow;

describe('recall', () => {
  beforeEach(() => recall.clear());

  it('keeps each site apart', () => {
    recall.rememberVisitor('s1', 'v', visitor);
    expect(recall.visitor('s1', 'v')).toEqual(visitor);
    expect(recall.visitor('s2', 'v')).toBeUndefined();
  });

  it('forgets the visitor least recently used first, past 20,000', () => {
    for (let i = 0; i < 20_000; i++) recall.rememberVisitor('s', `v${i}`, visitor);
    recall.visitor('s', 'v0'); // used: now the youngest
    recall.rememberVisitor('s', 'new', visitor);
    expect(recall.visitor('s', 'v0')).toBeDefined();
    expect(recall.visitor('s', 'v1')).toBeUndefined();
    expect(recall.visitor('s', 'new')).toBeDefined();
  });

  it("bounds the leads' events in all, forgetting the least recently used leads first", () => {
    const lead = (id: string, n: number) => ({ row: row(id), events: Array.from({ length: n }, () => ({}) as never), kept: [], added: [] });
    recall.rememberLead('s', lead('a', MAX_RECALLED_EVENTS / 2));
    recall.rememberLead('s', lead('b', MAX_RECALLED_EVENTS / 2));
    recall.lead('s', 'a');
    recall.rememberLead('s', lead('c', 1));
    expect([recall.lead('s', 'a'), recall.lead('s', 'b'), recall.lead('s', 'c')].map(Boolean)).toEqual([true, false, true]);
    // Replaced, a lead's events count once.
    recall.rememberLead('s', lead('c', 2));
    recall.rememberLead('s', lead('d', MAX_RECALLED_EVENTS / 2 - 2));
    expect([recall.lead('s', 'a'), recall.lead('s', 'c'), recall.lead('s', 'd')].map(Boolean)).toEqual([true, true, true]);
    // More than the whole budget is not kept at all, and pushes nothing out.
    recall.rememberLead('s', lead('e', MAX_RECALLED_EVENTS + 1));
    expect([recall.lead('s', 'e'), recall.lead('s', 'a')].map(Boolean)).toEqual([false, true]);
    // The whole budget exactly is kept, alone.
    recall.rememberLead('s', lead('f', MAX_RECALLED_EVENTS));
    expect([recall.lead('s', 'f'), recall.lead('s', 'a'), recall.lead('s', 'c'), recall.lead('s', 'd')].map(Boolean)).toEqual([true, false, false, false]);
  });

  it('does not keep a lead whose write may start a page of its history, and drops what it held of it', () => {
    const full = Array.from({ length: HISTORY_MAX }, (_, i) => ({ ts: i, shapeId: 1 }));
    recall.rememberLead('s', { row: row('ld'), events: [], kept: full, added: [] });
    expect(recall.lead('s', 'ld')).toBeDefined();
    // One event more than a row holds: the write that stores it starts a page.
    recall.rememberLead('s', { row: row('ld'), events: [], kept: full, added: [[1, 'k']] });
    expect(recall.lead('s', 'ld')).toBeUndefined();
    // A lead with pages already is kept, its events whole.
    recall.rememberLead('s', { row: row('ld', 2), events: [], kept: [], added: [] });
    expect(recall.lead('s', 'ld')?.row.historyPages).toBe(2);
  });

  it('forgets what a failed guess was made of', () => {
    recall.rememberVisitor('s', 'v', visitor);
    recall.rememberLead('s', { row: row('ld'), events: [], kept: [], added: [] });
    recall.forget('s', ['v'], ['ld']);
    expect([recall.visitor('s', 'v'), recall.lead('s', 'ld')]).toEqual([undefined, undefined]);
  });
});
