/**
 * @module The segments view: one card per band (in score order) plus an "Excluded" card, each with
 * its top members, refreshed live.
 *
 * Every poll fetches the bands, then each band's first page of members, in parallel. The DOM is only
 * touched where something changed (compared through a signature of what is shown), so a quiet poll
 * neither moves focus nor disturbs a screen reader, and a changed list is rebuilt with the focused
 * member, and the list's own scroll position, put back.
 */
import { type Api, type ApiError, type Band, type BandsResponse, type LeadPage, type LeadSummary, type SegmentStats, EXCLUDED, isAbort, isUnauthorized } from './api';
import { histogramChart, historyChart } from './charts';
import { focusQuietly, h, setChildren, setText } from './dom';
import { displayValue, formatRange, formatScore, fullName, plural, timeEl } from './format';
import { createPoller } from './live';
import { bandHref, leadHref } from './router';
import { toneFor } from './tones';

/** How many members each card shows: the API's default page, highest scores first. */
export const MEMBERS_PER_CARD = 50;
export const POLL_MS = 3000;

export interface SegmentsOptions {
  /** Where the cards go. */
  container: HTMLElement;
  /** The `aria-live="polite"` region that says when the data was last updated. */
  status: HTMLElement;
  /** A one-line summary next to the heading (total leads). */
  summary: HTMLElement;
  /** Where the histogram and the 30-day chart go. */
  charts: HTMLElement;
  onUnauthorized(err: ApiError): void;
}

export interface SegmentsView {
  /** Starts (or restarts) live updates with this API client. */
  start(api: Api): void;
  /** Stops live updates; what is shown stays, so coming back from a lead is instant. */
  stop(): void;
  /** Removes every lead from the page (on sign-out). */
  clear(): void;
  /** Focuses a member's link if it is on screen; used when coming back from a lead. */
  focusLead(id: string): boolean;
}

interface Card {
  root: HTMLElement;
  heading: HTMLHeadingElement;
  count: HTMLElement;
  countUnit: HTMLElement;
  change: HTMLElement;
  meta: HTMLElement;
  list: HTMLOListElement;
  empty: HTMLElement;
  note: HTMLElement;
  headSig: string;
  listSig: string;
}

interface Snapshot {
  bands: BandsResponse;
  pages: Map<string, LeadPage>;
  stats: SegmentStats;
}

function createCard(key: string, index: number): Card {
  const headingId = key === EXCLUDED ? 'band-excluded-title' : `band-${index}-title`;
  const heading = h('h2', { id: headingId, class: 'card-title', tabindex: -1 });
  const count = h('span', { class: 'count-value', 'data-count': '' }, '0');
  const countUnit = h('span', { class: 'count-unit' }, 'leads');
  const change = h('span', { class: 'count-change' });
  const meta = h('div', { class: 'card-meta' });
  const list = h('ol', { class: 'members', 'aria-labelledby': headingId, hidden: true });
  const empty = h('p', { class: 'empty' }, 'Loading members…');
  const note = h('p', { class: 'card-note', hidden: true });
  const root = h(
    'section',
    { class: 'card band', 'data-band': key, 'aria-labelledby': headingId },
    h('header', { class: 'card-head' }, heading, h('p', { class: 'count' }, count, ' ', countUnit, change)),
    meta,
    empty,
    list,
    note,
    key === EXCLUDED ? null : h('p', { class: 'card-more' }, h('a', { href: bandHref(key) }, 'See all', h('span', { class: 'vh' }, ` members of ${key}`))),
  );
  return { root, heading, count, countUnit, change, meta, list, empty, note, headSig: '', listSig: '' };
}

/** "+3 since yesterday": nothing before the first daily count exists. */
function sinceYesterday(count: number, yesterday: number | null): string {
  if (yesterday === null) return '';
  const d = count - yesterday;
  return ` · ${d === 0 ? 'no change' : `${d > 0 ? '+' : '−'}${Math.abs(d)}`} since yesterday`;
}

function renderBandHead(card: Card, band: Band | null, count: number, yesterday: number | null): void {
  const sig = JSON.stringify([band, count, yesterday]);
  if (sig === card.headSig) return;
  card.headSig = sig;
  setText(card.heading, band ? band.name : 'Excluded');
  setText(card.count, String(count));
  setText(card.countUnit, plural(count, 'lead'));
  setText(card.change, sinceYesterday(count, yesterday));
  if (band) {
    setChildren(
      card.meta,
      h(
        'dl',
        { class: 'facts' },
        h('div', null, h('dt', null, 'Score'), h('dd', null, formatRange(band.min, band.max))),
        h('div', null, h('dt', null, 'Branch'), h('dd', null, h('code', null, band.branch))),
      ),
      band.description ? h('p', { class: 'card-desc' }, band.description) : null,
    );
  } else {
    setChildren(card.meta, h('p', { class: 'card-desc' }, 'Persona-fit exclusions: tracked, but in no band and never nurtured.'));
  }
}

function memberRow(lead: LeadSummary): HTMLLIElement {
  const name = fullName(lead.profile);
  const company = displayValue(lead.profile['company']).trim();
  const who = [name, company].filter(Boolean).join(' · ');
  return h(
    'li',
    { class: 'member', 'data-lead-id': lead.id },
    h(
      'div',
      { class: 'member-main' },
      h('a', { class: 'member-link', href: leadHref(lead.id) }, lead.email),
      h('span', { class: 'member-total' }, h('span', { class: 'vh' }, 'Total '), formatScore(lead.score)),
    ),
    who ? h('p', { class: 'member-who' }, who) : null,
    h(
      'dl',
      { class: 'dims' },
      h('div', null, h('dt', null, 'Fit'), h('dd', null, formatScore(lead.scores.fit))),
      h('div', null, h('dt', null, 'Activity'), h('dd', null, formatScore(lead.scores.activity))),
      h('div', null, h('dt', null, 'Engagement'), h('dd', null, formatScore(lead.scores.engagement))),
    ),
    lead.excluded ? h('p', { class: 'member-reason' }, 'Reason: ', lead.excluded.reason) : null,
  );
}

/** Only what a row shows, so that an unrelated field change does not rebuild the list. */
const rowSig = (l: LeadSummary) => [
  l.id,
  l.email,
  l.profile['firstName'],
  l.profile['lastName'],
  l.profile['company'],
  l.scores,
  l.score,
  l.excluded?.reason ?? null,
];

function findRow(list: HTMLElement, id: string): HTMLElement | null {
  // Compared through getAttribute rather than a CSS selector built from an untrusted id.
  for (const li of Array.from(list.children)) {
    if (li instanceof HTMLElement && li.getAttribute('data-lead-id') === id) return li;
  }
  return null;
}

function renderMembers(card: Card, page: LeadPage, count: number, emptyText: string): void {
  const sig = JSON.stringify([page.leads.map(rowSig), count]);
  if (sig === card.listSig) return;
  card.listSig = sig;

  // Remember what the user was on, so that a live update does not throw them out of the list.
  const active = document.activeElement;
  const focusedId = active instanceof HTMLElement && card.list.contains(active) ? active.closest('li')?.getAttribute('data-lead-id') : null;
  const scrollTop = card.list.scrollTop;

  setChildren(card.list, page.leads.map(memberRow));
  card.list.hidden = page.leads.length === 0;
  card.empty.hidden = page.leads.length > 0;
  setText(card.empty, emptyText);
  const more = count - page.leads.length;
  card.note.hidden = more <= 0;
  setText(card.note, more > 0 ? `Showing the top ${page.leads.length} of ${count}.` : '');

  card.list.scrollTop = scrollTop;
  if (focusedId) {
    const row = findRow(card.list, focusedId);
    // The lead left this band: keep focus in the card rather than losing it to <body>.
    focusQuietly(row?.querySelector<HTMLElement>('a') ?? card.heading);
  }
}

export function createSegmentsView(opts: SegmentsOptions): SegmentsView {
  const cards = new Map<string, Card>();
  let layout = '';
  let lastUpdated: number | null = null;

  const setStatus = (...children: (Node | string)[]) => setChildren(opts.status, children);

  function ensureCards(bands: readonly Band[]): void {
    const keys = [...bands.map((b) => b.name), EXCLUDED];
    const sig = JSON.stringify(keys);
    if (sig === layout) return;
    // The model's bands changed (or first render): rebuild the cards from scratch.
    layout = sig;
    cards.clear();
    const roots = keys.map((key, i) => {
      const card = createCard(key, i);
      card.root.setAttribute('data-tone', key === EXCLUDED ? 'excluded' : toneFor(i, bands.length));
      cards.set(key, card);
      return card.root;
    });
    setChildren(opts.container, roots);
  }

  let chartsSig = '';

  function render({ bands, pages, stats }: Snapshot): void {
    const sig = JSON.stringify(stats);
    if (sig !== chartsSig) {
      chartsSig = sig;
      setChildren(opts.charts, histogramChart(stats), historyChart(stats));
    }
    ensureCards(bands.bands);
    for (const band of bands.bands) {
      const card = cards.get(band.name);
      const page = pages.get(band.name);
      if (!card || !page) continue;
      renderBandHead(card, band, band.count, band.yesterday);
      renderMembers(card, page, band.count, 'No leads in this band yet.');
    }
    const excludedCard = cards.get(EXCLUDED);
    const excludedPage = pages.get(EXCLUDED);
    if (excludedCard && excludedPage) {
      renderBandHead(excludedCard, null, bands.excluded.count, bands.excluded.yesterday);
      renderMembers(excludedCard, excludedPage, bands.excluded.count, 'No excluded leads.');
    }
    const today = new Date().toISOString().slice(0, 10);
    const robots = stats.robots.find((r) => r.day === today)?.events ?? 0;
    setText(
      opts.summary,
      `${bands.total} ${plural(bands.total, 'lead')} in total.` + (robots ? ` ${robots} ${plural(robots, 'event')} from robots set aside today.` : ''),
    );
  }

  async function load(api: Api, signal: AbortSignal): Promise<Snapshot> {
    const [bands, stats] = await Promise.all([api.bands(signal), api.stats(signal)]);
    const keys = bands.bands.map((b) => b.name);
    const results = await Promise.all([
      ...keys.map((band) => api.leads({ band, excluded: false, limit: MEMBERS_PER_CARD }, signal)),
      api.leads({ excluded: true, limit: MEMBERS_PER_CARD }, signal),
    ]);
    const pages = new Map<string, LeadPage>();
    [...keys, EXCLUDED].forEach((key, i) => {
      const page = results[i];
      if (page) pages.set(key, page);
    });
    return { bands, pages, stats };
  }

  let poller: ReturnType<typeof createPoller> | null = null;

  const lastUpdatedParts = (): (Node | string)[] =>
    lastUpdated === null ? [] : ['Last updated ', timeEl(lastUpdated, 'clock'), '.'];

  return {
    start(api) {
      poller?.stop();
      if (cards.size === 0) setChildren(opts.container, h('p', { class: 'loading' }, 'Loading segments…'));
      poller = createPoller(
        async (signal) => {
          try {
            const snapshot = await load(api, signal);
            if (signal.aborted) return;
            render(snapshot);
            lastUpdated = Date.now();
            setStatus(...lastUpdatedParts());
          } catch (err) {
            if (isAbort(err) || signal.aborted) return;
            if (isUnauthorized(err)) {
              opts.onUnauthorized(err);
              return;
            }
            const message = err instanceof Error ? err.message : String(err);
            // Keep showing the last good data; say plainly that it may be stale.
            setStatus(`Update failed: ${message}. Retrying every ${POLL_MS / 1000} seconds. `, ...lastUpdatedParts());
          }
        },
        POLL_MS,
        () => setStatus('Live updates paused while this tab is hidden. ', ...lastUpdatedParts()),
      );
      poller.start();
    },
    stop() {
      poller?.stop();
      poller = null;
    },
    clear() {
      this.stop();
      cards.clear();
      layout = '';
      chartsSig = '';
      lastUpdated = null;
      setChildren(opts.container);
      setChildren(opts.charts);
      setChildren(opts.status);
      setChildren(opts.summary);
    },
    focusLead(id) {
      for (const card of cards.values()) {
        const link = findRow(card.list, id)?.querySelector<HTMLElement>('a');
        if (link) {
          focusQuietly(link);
          return true;
        }
      }
      return false;
    },
  };
}
