/**
 * bench:timeline — the CPU of a lead page's timeline: the score after each of the lead's last
 * events (`scoreHistory`, worker/scoring/history.ts), against its definition, `scoreLead` over the
 * events up to each one, which is what it cost before. Leads of 200, 2,000 and 12,000 page views an
 * hour apart on the default model, as many points as the lead page asks for (200, or 50 past 2,000
 * events). vitest prints each case's rate and, per size, how many times faster the faster one is.
 *
 *   npm run bench:timeline
 */
import { bench, describe } from 'vitest';
import { DEFAULT_MODEL } from '../worker/scoring/default-model';
import { scoreHistory } from '../worker/scoring/history';
import { chronological, scoreLead } from '../worker/scoring/score';
import type { ScoringEvent } from '../worker/scoring/types';

const PAGES = ['/pricing', '/blog/why-lead-scoring', '/references', '/', '/contact'];
const NOW = Date.UTC(2026, 11, 6);

const lead = (n: number): ScoringEvent[] =>
  Array.from({ length: n }, (_, i) => ({ id: `e${i}`, ts: NOW - (n - i) * 3_600_000, type: 'page_view', url: `https://acme.example${PAGES[i % PAGES.length]}` }));

/** What the timeline cost before: each point scores the events up to it, and those before it. */
function byPrefixes(events: readonly ScoringEvent[], limit: number) {
  const sorted = chronological(events);
  for (let i = Math.max(0, sorted.length - limit); i < sorted.length; i++) {
    scoreLead(DEFAULT_MODEL, sorted.slice(0, i + 1), {}, sorted[i]!.ts);
    scoreLead(DEFAULT_MODEL, sorted.slice(0, i), {}, sorted[i]!.ts);
  }
}

for (const n of [200, 2000, 12_000]) {
  const events = lead(n);
  const points = n > 2000 ? 50 : 200;
  describe(`a lead of ${n.toLocaleString('en')} events, ${points} points`, () => {
    bench('scoreHistory (contributions once)', () => void scoreHistory(DEFAULT_MODEL, events, {}, points), { time: 2000 });
    bench('scoreLead over each prefix', () => byPrefixes(events, points), { time: 2000 });
  });
}
