/**
 * @module The lead view: who the lead is, its scores per dimension, why (the rule breakdown) and
 * what happened (the timeline of events and band/stage changes).
 *
 * Every profile key and value, page title, URL, rule label and reason shown here was typed by
 * someone outside the company, so all of it goes through `h` as text. URLs are shown, never linked.
 */
import {
  type Api,
  type ApiError,
  type BreakdownItem,
  DIMENSIONS,
  type LeadDetail,
  type Profile,
  type TimelineEvent,
  type TimelineItem,
  type TimelineTransition,
  type SalesUpdate,
  isAbort,
  isUnauthorized,
} from './api';
import { type Child, focusQuietly, h, setChildren } from './dom';
import { dimensionLabel, displayValue, formatPoints, formatScore, fullName, stageLabel, timeEl } from './format';
import { salesActions } from './lead-actions';
import { SEGMENTS_HREF } from './router';

export interface LeadViewOptions {
  /** The view's root, `#lead`. */
  root: HTMLElement;
  onUnauthorized(err: ApiError): void;
}

type Update = (body: SalesUpdate, done: string) => Promise<void>;

export interface LeadView {
  /** Loads and shows a lead; focuses its heading once loaded when `focus` is set. */
  show(api: Api, id: string, focus: boolean): void;
  /** Cancels a load in flight (the user left the view). */
  stop(): void;
  /** Removes the lead from the page (on sign-out). */
  clear(): void;
}

/** Known profile properties first, in a natural reading order; custom ones follow, sorted. */
const PROFILE_LABELS: readonly (readonly [string, string])[] = [
  ['firstName', 'First name'],
  ['lastName', 'Last name'],
  ['jobTitle', 'Job title'],
  ['company', 'Company'],
  ['companySize', 'Company size'],
  ['industry', 'Industry'],
  ['country', 'Country'],
  ['emailDomain', 'E-mail domain'],
];

const EVENT_LABELS: Readonly<Record<string, string>> = {
  page_view: 'Page view',
  download: 'Download',
  form_submit: 'Form submitted',
  identify: 'Identified',
  email_open: 'E-mail opened',
  email_click: 'E-mail link clicked',
};

const CAUSE_LABELS: Readonly<Record<string, string>> = {
  recompute: 'after a model change',
  decay: 'by score decay',
  sales: 'by sales',
};

const backLink = () => h('p', { class: 'back' }, h('a', { href: SEGMENTS_HREF }, 'Back to segments'));

const fact = (term: string, ...value: Child[]) => h('div', null, h('dt', null, term), h('dd', null, ...value));

/** A heading plus its content in a labelled section, so landmarks and headings stay in step. */
function section(id: string, title: string, ...content: Child[]): HTMLElement {
  return h('section', { class: 'panel', 'aria-labelledby': id }, h('h2', { id }, title), ...content);
}

/** Tables scroll sideways on a phone; a focusable, labelled region lets keyboards scroll them too. */
const tableWrap = (labelledBy: string, table: HTMLTableElement) =>
  h('div', { class: 'table-wrap', role: 'region', 'aria-labelledby': labelledBy, tabindex: 0 }, table);

function scores(lead: LeadDetail): HTMLElement {
  return h(
    'dl',
    { class: 'scores' },
    DIMENSIONS.map((d) =>
      h('div', { class: 'score' }, h('dt', null, dimensionLabel(d)), h('dd', { 'data-score': d }, formatScore(lead.scores[d]))),
    ),
    h('div', { class: 'score score-total' }, h('dt', null, 'Total'), h('dd', { 'data-score': 'total' }, formatScore(lead.score))),
  );
}

function profileRows(email: string, profile: Profile): HTMLTableRowElement[] {
  const row = (label: string, value: string) => h('tr', null, h('th', { scope: 'row' }, label), h('td', null, value));
  const known = new Set(['email', ...PROFILE_LABELS.map(([k]) => k)]);
  const rows = [row('E-mail', email)];
  for (const [key, label] of PROFILE_LABELS) {
    const value = displayValue(profile[key]);
    if (value !== '') rows.push(row(label, value));
  }
  const custom = Object.keys(profile)
    .filter((k) => !known.has(k))
    .sort((a, b) => a.localeCompare(b));
  // Custom keys are untrusted too: shown as text, like their values.
  for (const key of custom) rows.push(row(key, displayValue(profile[key])));
  return rows;
}

function breakdown(items: readonly BreakdownItem[]): Child {
  if (items.length === 0) return h('p', { class: 'empty' }, 'No rule has given this lead any points yet.');
  return tableWrap(
    'lead-breakdown',
    h(
      'table',
      { class: 'data' },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          h('th', { scope: 'col' }, 'Rule'),
          h('th', { scope: 'col' }, 'Dimension'),
          h('th', { scope: 'col', class: 'num' }, 'Count'),
          h('th', { scope: 'col', class: 'num' }, 'Points'),
        ),
      ),
      h(
        'tbody',
        null,
        items.map((b) =>
          h(
            'tr',
            { class: b.points < 0 ? 'negative' : null },
            h('td', null, b.label),
            h('td', null, dimensionLabel(b.dimension)),
            h('td', { class: 'num' }, formatScore(b.count)),
            h('td', { class: 'num' }, formatPoints(b.points)),
          ),
        ),
      ),
    ),
  );
}

const orNone = (v: string | null | undefined) => (v === null || v === undefined || v === '' ? 'none' : v);

function eventItem(e: TimelineEvent): HTMLLIElement {
  return h(
    'li',
    { class: 'tl-item tl-event' },
    timeEl(e.ts),
    h(
      'div',
      { class: 'tl-body' },
      h('p', { class: 'tl-what' }, EVENT_LABELS[e.type] ?? e.type, e.title ? h('span', { class: 'tl-title' }, ': ', e.title) : null),
      e.url ? h('p', { class: 'tl-url' }, e.url) : null,
      e.contentType ? h('p', { class: 'tl-detail' }, 'Content type: ', h('code', null, e.contentType)) : null,
    ),
  );
}

/** "recycled to nurturing" → "Recycled to nurturing". */
const sentence = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

function transitionItem(t: TimelineTransition): HTMLLIElement {
  let what: Child[];
  switch (t.type) {
    case 'lead.band_changed':
      what = ['Band changed: ', orNone(t.from), ' → ', orNone(t.to)];
      break;
    case 'lead.stage_changed':
      what = ['Stage changed: ', t.from ? stageLabel(t.from) : 'none', ' → ', t.to ? stageLabel(t.to) : 'none'];
      break;
    case 'lead.excluded':
      what = ['Excluded', t.reason || t.to ? [': ', t.reason || t.to] : null];
      break;
    case 'lead.included':
      what = ['Included again'];
      break;
    default:
      what = [t.type];
  }
  const cause = t.cause ? (CAUSE_LABELS[t.cause] ?? null) : null;
  return h(
    'li',
    { class: 'tl-item tl-transition' },
    timeEl(t.at),
    h(
      'div',
      { class: 'tl-body' },
      h('p', { class: 'tl-what' }, what, cause ? h('span', { class: 'muted' }, ` (${cause})`) : null),
      t.branch ? h('p', { class: 'tl-detail' }, 'Nurturing branch: ', h('code', null, t.branch)) : null,
      // Why a stage changed, when it says: a recycling, which may leave the stage as it was
      // (a lead at `lead` recycled again: its climb starts over from then).
      t.type === 'lead.stage_changed' && t.reason ? h('p', { class: 'tl-detail' }, sentence(t.reason)) : null,
    ),
  );
}

function timeline(items: readonly TimelineItem[]): Child {
  if (items.length === 0) return h('p', { class: 'empty' }, 'Nothing has happened yet.');
  return h(
    'ol',
    { class: 'timeline', 'aria-labelledby': 'lead-timeline' },
    items.map((item) => (item.kind === 'event' ? eventItem(item) : transitionItem(item))),
  );
}

function render(lead: LeadDetail, update: Update, message?: string): Child[] {
  const name = fullName(lead.profile);
  const company = displayValue(lead.profile['company']).trim();
  const jobTitle = displayValue(lead.profile['jobTitle']).trim();
  const role = [jobTitle, company].filter(Boolean).join(' at ');
  return [
    backLink(),
    h(
      'header',
      { class: 'lead-head' },
      h('h1', { id: 'lead-title', tabindex: -1 }, name || lead.email),
      h('p', { class: 'lead-sub' }, name ? lead.email : null, name && role ? ' · ' : null, role || null),
      h(
        'dl',
        { class: 'facts lead-facts' },
        lead.excluded
          ? fact('Excluded', h('span', { class: 'badge badge-excluded' }, lead.excluded.reason))
          : fact('Band', h('span', { class: 'badge' }, orNone(lead.band))),
        fact('Stage', stageLabel(lead.stage)),
        fact('Last activity', timeEl(lead.lastEventAt)),
        fact('Updated', timeEl(lead.updatedAt)),
      ),
    ),
    section('lead-sales', 'Sales', salesActions({ lead, update, message })),
    section('lead-scores', 'Scores', scores(lead)),
    section(
      'lead-profile',
      'Profile',
      tableWrap('lead-profile', h('table', { class: 'data profile' }, h('tbody', null, profileRows(lead.email, lead.profile)))),
    ),
    section('lead-breakdown', 'Why this score', breakdown(lead.breakdown)),
    section('lead-timeline', 'Timeline', h('p', { class: 'muted' }, 'Newest first.'), timeline(lead.timeline)),
  ];
}

export function createLeadView(opts: LeadViewOptions): LeadView {
  let controller: AbortController | null = null;

  const stop = () => {
    controller?.abort();
    controller = null;
  };

  async function load(api: Api, id: string, focus: boolean): Promise<void> {
    stop();
    const mine = new AbortController();
    controller = mine;
    opts.root.setAttribute('aria-busy', 'true');
    setChildren(opts.root, backLink(), h('h1', { id: 'lead-title', tabindex: -1 }, 'Loading lead…'));
    if (focus) focusQuietly(opts.root.querySelector<HTMLElement>('#lead-title'));
    try {
      const lead = await api.lead(id, mine.signal);
      if (mine.signal.aborted) return;
      const update: Update = async (body, done) => {
        try {
          await api.updateLead(id, body);
        } catch (err) {
          if (isUnauthorized(err)) opts.onUnauthorized(err as ApiError);
          throw err;
        }
        // Shown again from the stored lead; focus stays on the sales section.
        const fresh = await api.lead(id);
        setChildren(opts.root, render(fresh, update, done));
        focusQuietly(opts.root.querySelector<HTMLElement>('.sales [role=status]'));
      };
      setChildren(opts.root, render(lead, update));
      document.title = `${fullName(lead.profile) || lead.email} · leadscore`;
    } catch (err) {
      if (isAbort(err) || mine.signal.aborted) return;
      if (isUnauthorized(err)) {
        opts.onUnauthorized(err);
        return;
      }
      const notFound = typeof err === 'object' && err !== null && (err as ApiError).status === 404;
      const message = err instanceof Error ? err.message : String(err);
      const retry = h('button', { type: 'button', class: 'secondary' }, 'Try again');
      retry.addEventListener('click', () => void load(api, id, true));
      setChildren(
        opts.root,
        backLink(),
        h('h1', { id: 'lead-title', tabindex: -1 }, notFound ? 'Lead not found' : 'Could not load this lead'),
        h('p', { class: 'alert', role: 'alert' }, message),
        notFound ? null : retry,
      );
    } finally {
      if (controller === mine) {
        controller = null;
        opts.root.removeAttribute('aria-busy');
        // Announce the loaded lead by moving focus to its heading (the old heading node was replaced).
        if (focus && !mine.signal.aborted) focusQuietly(opts.root.querySelector<HTMLElement>('#lead-title'));
      }
    }
  }

  return {
    show(api, id, focus) {
      void load(api, id, focus);
    },
    stop() {
      stop();
      opts.root.removeAttribute('aria-busy');
    },
    clear() {
      stop();
      opts.root.removeAttribute('aria-busy');
      setChildren(opts.root);
    },
  };
}
