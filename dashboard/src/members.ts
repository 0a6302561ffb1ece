/**
 * @module A band's members page (`#band/<name>`): every member, a page of 50 at a time, searchable.
 *
 * Nothing here reads more than one page: without a search it walks `GET /v1/bands/{band}/members`,
 * with one `GET /v1/leads?band&q`, both by score descending with a keyset cursor, so the page is as
 * quick with 100,000 members as with 10. The API has no other order, so the page offers none: it
 * says so rather than re-sorting one page and pretending it is the band.
 */
import { type Api, type ApiError, type Band, type LeadSummary, isAbort, isUnauthorized } from './api';
import { focusQuietly, h, setChildren, setText } from './dom';
import { displayValue, formatCount, formatRange, formatScore, fullName, stageLabel } from './format';
import { createPager } from './pager';
import { SEGMENTS_HREF, leadHref } from './router';

export const MEMBERS_PER_PAGE = 50;
/** How long typing must pause before the search runs. */
export const SEARCH_DEBOUNCE_MS = 350;
/** The API's bound on `q`. */
const MAX_QUERY = 200;

export interface MembersViewOptions {
  /** The view's root, `#band-view`. */
  root: HTMLElement;
  onUnauthorized(err: ApiError): void;
}

export interface MembersView {
  /**
   * Shows a band's members. The same band again (back from one of its leads) keeps the search and
   * the page, reloads that page and focuses the lead that was opened.
   */
  show(api: Api, band: string, focus: boolean): void;
  stop(): void;
  clear(): void;
}

const backLink = () => h('p', { class: 'back' }, h('a', { href: SEGMENTS_HREF }, 'Back to segments'));

function memberRow(lead: LeadSummary): HTMLTableRowElement {
  const who = [fullName(lead.profile), displayValue(lead.profile['company']).trim()].filter(Boolean).join(' · ');
  return h(
    'tr',
    { 'data-lead-id': lead.id },
    h('td', null, h('a', { class: 'member-link', href: leadHref(lead.id) }, lead.email), who ? h('p', { class: 'member-who' }, who) : null),
    h('td', { class: 'num member-total' }, formatScore(lead.score)),
    h('td', { class: 'num' }, formatScore(lead.scores.fit)),
    h('td', { class: 'num' }, formatScore(lead.scores.activity)),
    h('td', { class: 'num' }, formatScore(lead.scores.engagement)),
    h('td', { class: 'stage' }, stageLabel(lead.stage)),
  );
}

export function createMembersView(opts: MembersViewOptions): MembersView {
  let api: Api | null = null;
  let bandName: string | null = null;
  let band: Band | null = null;
  let query = '';
  let controller: AbortController | null = null;
  let debounce: ReturnType<typeof setTimeout> | undefined;
  /** The lead opened from this page, focused again when coming back. */
  let openedLead: string | null = null;

  const heading = h('h1', { id: 'band-title', tabindex: -1 });
  const facts = h('div', { class: 'band-facts' });
  const input = h('input', {
    id: 'member-search',
    name: 'q',
    type: 'search',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'E-mail, name or company',
    'aria-describedby': 'member-search-hint',
  });
  input.maxLength = MAX_QUERY;
  const form = h(
    'form',
    { class: 'search', role: 'search', 'aria-label': 'Members' },
    h('label', { for: 'member-search' }, 'Search members'),
    h('div', { class: 'search-row' }, input, h('button', { type: 'submit', class: 'secondary' }, 'Search')),
    h('p', { id: 'member-search-hint', class: 'hint' }, 'Matches part of the e-mail, first name, last name or company.'),
  );
  const order = h(
    'p',
    { class: 'hint order-note' },
    'Highest score first: the order the API pages members in. It has no other order, so this list cannot be sorted lowest first.',
  );
  // Visible in the pager; said here for screen readers once a search or a page has loaded.
  const status = h('p', { class: 'vh', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });
  const alert = h('p', { class: 'alert', role: 'alert' });
  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'data members-table' },
    h('caption', { class: 'vh', id: 'members-caption' }, 'Members, highest score first'),
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', { scope: 'col' }, 'Lead'),
        // The sort column comes first after the lead, so that it stays in view on a phone.
        h('th', { scope: 'col', class: 'num', 'aria-sort': 'descending' }, 'Score ', h('span', { 'aria-hidden': 'true' }, '↓')),
        h('th', { scope: 'col', class: 'num' }, 'Fit'),
        h('th', { scope: 'col', class: 'num' }, 'Activity'),
        h('th', { scope: 'col', class: 'num' }, 'Engagement'),
        h('th', { scope: 'col' }, 'Stage'),
      ),
    ),
    tbody,
  );
  const wrap = h('div', { class: 'table-wrap', role: 'region', 'aria-labelledby': 'members-caption', tabindex: 0, hidden: true }, table);
  const empty = h('p', { class: 'empty', hidden: true });
  const pager = createPager('Members pages', () => void load({ focus: 'none' }));
  const body = h('div', { class: 'panel' }, form, order, status, alert, wrap, empty, pager.root);

  tbody.addEventListener('click', (event) => {
    const link = event.target instanceof Element ? event.target.closest('a') : null;
    openedLead = link?.closest('tr')?.getAttribute('data-lead-id') ?? null;
  });

  const stop = () => {
    controller?.abort();
    controller = null;
    if (debounce !== undefined) clearTimeout(debounce);
    debounce = undefined;
    pager.setBusy(false);
  };

  const search = () => {
    const q = input.value.trim().slice(0, MAX_QUERY);
    if (q === query) return;
    query = q;
    pager.reset();
    void load({ focus: 'none' });
  };
  input.addEventListener('input', () => {
    if (debounce !== undefined) clearTimeout(debounce);
    debounce = setTimeout(() => {
      debounce = undefined;
      search();
    }, SEARCH_DEBOUNCE_MS);
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (debounce !== undefined) clearTimeout(debounce);
    debounce = undefined;
    search();
  });

  function renderHead(): void {
    const name = band?.name ?? bandName ?? '';
    setText(heading, `${name} members`);
    setChildren(
      facts,
      band
        ? h(
            'dl',
            { class: 'facts' },
            h('div', null, h('dt', null, 'Leads'), h('dd', { 'data-count': '' }, formatCount(band.count))),
            h('div', null, h('dt', null, 'Score'), h('dd', null, formatRange(band.min, band.max))),
            h('div', null, h('dt', null, 'Branch'), h('dd', null, h('code', null, band.branch))),
          )
        : null,
    );
  }

  async function load({ focus, fresh = false }: { focus: 'heading' | 'lead' | 'none'; fresh?: boolean }): Promise<void> {
    if (!api || bandName === null) return;
    const client = api;
    const name = bandName;
    controller?.abort();
    const mine = new AbortController();
    controller = mine;
    pager.setBusy(true);
    opts.root.setAttribute('aria-busy', 'true');
    const cursor = pager.cursor();
    const q = query;
    try {
      const [bands, page] = await Promise.all([
        fresh || band === null ? client.bands(mine.signal) : Promise.resolve(null),
        q
          ? client.leads({ band: name, excluded: false, q, limit: MEMBERS_PER_PAGE, cursor: cursor ?? undefined }, mine.signal).then((p) => ({ leads: p.leads, nextCursor: p.nextCursor }))
          : client.bandMembers(name, { limit: MEMBERS_PER_PAGE, cursor }, mine.signal).then((p) => ({ leads: p.members, nextCursor: p.nextCursor })),
      ]);
      if (mine.signal.aborted) return;
      if (bands) {
        band = bands.bands.find((b) => b.name === name) ?? null;
        renderHead();
      }
      setText(alert, '');
      const first = (pager.page() - 1) * MEMBERS_PER_PAGE + 1;
      const last = first + page.leads.length - 1;
      setChildren(tbody, page.leads.map(memberRow));
      wrap.hidden = page.leads.length === 0;
      empty.hidden = page.leads.length > 0;
      setText(empty, q ? `No member of ${name} matches “${q}”.` : pager.page() > 1 ? 'No more members.' : `No leads in ${name} yet.`);
      const range = page.leads.length ? `${formatCount(first)}–${formatCount(last)}` : '';
      const summary = q
        ? page.leads.length
          ? `Matches ${range} for “${q}”`
          : ''
        : page.leads.length
          ? `Leads ${range}${band ? ` of ${formatCount(band.count)}` : ''}`
          : '';
      pager.loaded(page.nextCursor, summary ? `Page ${pager.page()}: ${summary}` : `Page ${pager.page()}`);
      setText(status, q ? (page.leads.length || pager.page() > 1 ? `${summary}.` : `No match for “${q}”.`) : summary ? `${summary}.` : '');
      if (focus === 'lead' && openedLead) {
        const row = Array.from(tbody.rows).find((r) => r.getAttribute('data-lead-id') === openedLead);
        focusQuietly(row?.querySelector('a') ?? heading);
      } else if (focus === 'heading') {
        focusQuietly(heading);
      }
    } catch (err) {
      if (isAbort(err) || mine.signal.aborted) return;
      if (isUnauthorized(err)) {
        opts.onUnauthorized(err);
        return;
      }
      const notFound = err instanceof Error && (err as ApiError).status === 404;
      if (notFound) {
        band = null;
        setText(heading, 'Band not found');
        setChildren(facts);
        setChildren(body, h('p', { class: 'alert', role: 'alert' }, `There is no band “${name}” in the model.`));
      } else {
        setText(alert, `Could not load the members: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (focus !== 'none') focusQuietly(heading);
    } finally {
      if (controller === mine) {
        controller = null;
        pager.setBusy(false);
        opts.root.removeAttribute('aria-busy');
      }
    }
  }

  function build(): void {
    setChildren(opts.root, backLink(), h('header', { class: 'lead-head' }, heading, facts), body);
    setChildren(body, form, order, status, alert, wrap, empty, pager.root);
  }

  /** Forgets the band shown: its head, the search, the page and the lead last opened. */
  function forget(name: string | null): void {
    bandName = name;
    band = null;
    query = '';
    input.value = '';
    openedLead = null;
    pager.reset();
    setChildren(tbody);
  }

  return {
    show(client, name, focus) {
      stop();
      api = client;
      const same = name === bandName;
      if (!same) {
        forget(name);
        setText(status, '');
        setText(alert, '');
        wrap.hidden = true;
        empty.hidden = true;
        pager.root.hidden = true;
      }
      build();
      renderHead();
      document.title = `${name} members · leadscore`;
      void load({ focus: focus ? (same && openedLead ? 'lead' : 'heading') : 'none', fresh: true });
      if (focus) focusQuietly(heading);
    },
    stop,
    clear() {
      stop();
      api = null;
      forget(null);
      opts.root.removeAttribute('aria-busy');
      setChildren(opts.root);
    },
  };
}
