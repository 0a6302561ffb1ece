import { beforeEach, describe, expect, it } from 'vitest';
import { MAX_RECALLED_EVENTS, recall } from '../../../worker/ingest/recall';
import type { LeadRow } from '../../../worker/leads/write';

const visitor = { leadId: null, paceStart: 1, paceCount: 1, robotSince: null };
const row = (id: string) => ({ id }) as LeadRow;

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

  it('does not keep a lead whose past is too long, or not known event by event, and drops what it held of it', () => {
    const kept = (n: number) => Array.from({ length: n }, (_, i) => ({ ts: i, shapeId: 1 }));
    recall.rememberLead('s', { row: row('ld'), events: [], kept: kept(MAX_RECALLED_EVENTS), added: [] });
    expect(recall.lead('s', 'ld')).toBeDefined();
    recall.rememberLead('s', { row: row('ld'), events: [], kept: kept(MAX_RECALLED_EVENTS), added: [[1, 'k']] });
    expect(recall.lead('s', 'ld')).toBeUndefined();
    recall.rememberLead('s', { row: row('ld'), events: [], kept: [], added: [] });
    recall.rememberLead('s', { row: row('ld'), kept: null });
    expect(recall.lead('s', 'ld')).toBeUndefined();
  });

  it('forgets what a failed guess was made of', () => {
    recall.rememberVisitor('s', 'v', visitor);
    recall.rememberLead('s', { row: row('ld'), events: [], kept: [], added: [] });
    recall.forget('s', ['v'], ['ld']);
    expect([recall.visitor('s', 'v'), recall.lead('s', 'ld')]).toEqual([undefined, undefined]);
  });
});
