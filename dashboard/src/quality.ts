/**
 * @module The model-quality view (`#quality`): is the model right? Conversions per band and stage
 * with their intervals, the median time from MQL to SQL, the false positives, each rule's lift,
 * and the weights suggested from the site's outcomes, with the backtest beside the current model.
 *
 * A suggestion is never applied here: "Preview in the model editor" hands the candidate model to
 * the editor, which previews it like any edit and saves it only when the marketer says so.
 */
import { type Api, type ApiError, isAbort, isUnauthorized } from './api';
import { type Child, focusQuietly, h, setChildren, setText } from './dom';
import { formatCount, formatPoints, plural, stageLabel } from './format';
import type { Model } from './model-types';
import type { Proportion, QualityReport, Suggestion } from './quality-types';
import { leadHref } from './router';

export interface QualityViewOptions {
  root: HTMLElement;
  onUnauthorized(err: ApiError): void;
  /** Opens the candidate in the model editor, to preview and perhaps save. */
  onPreview(model: Model): void;
}

export interface QualityView {
  show(api: Api, focus: boolean): void;
  stop(): void;
  clear(): void;
}

const percent = (x: number | null | undefined) => (typeof x === 'number' && Number.isFinite(x) ? `${Math.round(x * 1000) / 10}%` : '–');

/** "40% (22–61%) · 4 of 10": the rate, its 95% interval, and the counts it comes from. */
function proportion(p: Proportion): Child {
  if (p.rate === null) return h('span', { class: 'muted' }, '–');
  return [percent(p.rate), ' ', h('span', { class: 'muted' }, `(${percent(p.low)}–${percent(p.high)}) · ${formatCount(p.k)} of ${formatCount(p.n)}`)];
}

const days = (ms: number) => {
  const d = ms / 86_400_000;
  return d >= 1 ? `${Math.round(d * 10) / 10} ${plural(Math.round(d * 10) / 10, 'day')}` : `${Math.round(ms / 3_600_000)} h`;
};

function table(id: string, caption: string, head: Child[], rows: HTMLTableRowElement[]): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap', role: 'region', 'aria-labelledby': `${id}-title`, tabindex: 0 },
    h('table', { class: 'data', id }, h('caption', { id: `${id}-title`, class: 'vh' }, caption), h('thead', null, h('tr', null, head)), h('tbody', null, rows)),
  );
}

const th = (text: string, num = false) => h('th', { scope: 'col', ...(num ? { class: 'num' } : {}) }, text);

function conversions(id: string, caption: string, first: string, rows: { key: string; label: string; leads: number; reached: QualityReport['bands'][number]['reached'] }[]) {
  return table(
    id,
    caption,
    [th(first), th('Leads', true), th('Reached SQL'), th('Opportunity'), th('Customer')],
    rows.map((r) =>
      h(
        'tr',
        { 'data-key': r.key },
        h('th', { scope: 'row' }, r.label),
        h('td', { class: 'num' }, formatCount(r.leads)),
        h('td', { 'data-col': 'sql' }, proportion(r.reached.sql)),
        h('td', { 'data-col': 'opportunity' }, proportion(r.reached.opportunity)),
        h('td', { 'data-col': 'customer' }, proportion(r.reached.customer)),
      ),
    ),
  );
}

function renderReport(q: QualityReport): Child[] {
  const fp = q.falsePositives;
  return [
    h(
      'p',
      { id: 'quality-outcomes' },
      `${formatCount(q.leads)} ${plural(q.leads, 'lead')}. Outcomes recorded: ${formatCount(q.outcomes.won)} won, ${formatCount(q.outcomes.lost)} lost, ` +
        `${formatCount(q.outcomes.bad_fit)} bad fit, ${formatCount(q.outcomes.not_reached)} not reached.`,
      q.truncated ? ' Only the most recent outcomes were read.' : '',
    ),
    h('h2', null, 'By band'),
    h('p', { class: 'hint' }, 'Each band as the current model fills it, and how many of its leads sales moved on. Intervals are 95%.'),
    conversions('quality-bands', 'Conversions by band', 'Band', q.bands.map((b) => ({ key: b.band, label: b.band === 'excluded' ? 'Excluded' : b.band, leads: b.leads, reached: b.reached }))),
    h('h2', null, 'By stage'),
    conversions('quality-stages', 'Conversions by stage reached', 'Stage reached', q.stages.map((s) => ({ key: s.stage, label: stageLabel(s.stage), leads: s.leads, reached: s.reached }))),
    h(
      'p',
      { id: 'quality-mql-sql' },
      q.mqlToSql.medianMs === null
        ? 'No lead has gone from MQL to SQL yet.'
        : `Median time from MQL to SQL: ${days(q.mqlToSql.medianMs)}, over ${formatCount(q.mqlToSql.leads)} ${plural(q.mqlToSql.leads, 'lead')}.`,
    ),
    h('h2', null, 'False positives'),
    h(
      'p',
      { id: 'quality-false-positives' },
      fp.n === 0
        ? `No ${fp.topBand} or MQL lead has been judged by sales yet.`
        : [`${formatCount(fp.k)} of ${formatCount(fp.n)} ${fp.topBand} or MQL leads that sales worked were a bad fit: `, proportion(fp)],
    ),
    fp.sample.length ? h('ul', { class: 'fp-sample' }, fp.sample.map((l) => h('li', null, h('a', { href: leadHref(l.id) }, l.email)))) : null,
    h('h2', null, 'Rules'),
    h(
      'p',
      { class: 'hint' },
      `How often each rule had fired when the outcome was decided, for the ${formatCount(q.decided.won)} won leads and the ${formatCount(q.decided.lost)} lost or bad-fit ones. ` +
        'A lift above 1 means the rule fires more for leads that are won.',
    ),
    table(
      'quality-rules',
      'Rules: fired for won against lost leads',
      [th('Rule'), th('Points', true), th('Won leads'), th('Lost leads'), th('Lift', true)],
      q.rules.map((r) =>
        h(
          'tr',
          { 'data-rule': r.ruleId },
          h('th', { scope: 'row' }, r.label),
          h('td', { class: 'num' }, formatPoints(r.points)),
          h('td', null, proportion(r.firedWon)),
          h('td', null, proportion(r.firedLost)),
          h('td', { class: 'num', 'data-col': 'lift' }, r.lift === null ? '–' : `×${Math.round(r.lift * 100) / 100}`),
        ),
      ),
    ),
  ];
}

function renderSuggestion(s: Suggestion, preview: HTMLButtonElement): Child[] {
  const message = h('p', { id: 'quality-suggestion-message' }, s.message);
  if (!s.enough) return [message];
  const bt = s.backtest;
  return [
    message,
    bt
      ? h(
          'p',
          { id: 'quality-backtest' },
          `Backtest on the same leads, each scored as it stood when decided: the current model ranks a won lead above a lost one ` +
            `${percent(bt.current.auc)} of the time (AUC), the suggestion ${percent(bt.candidate.auc)}.`,
        )
      : null,
    s.heldOut.folds
      ? h(
          'p',
          { id: 'quality-held-out' },
          `On leads it did not learn from (${s.heldOut.folds} folds, each scored by a suggestion learnt from the others), the suggestion ranks ` +
            `${percent(s.heldOut.candidate)} right, the current model ${percent(s.heldOut.current)}: what to expect of the next leads.`,
        )
      : null,
    table(
      'quality-suggestion',
      'Suggested points per rule',
      [th('Rule'), th('Now', true), th('Suggested', true), th('Evidence')],
      s.rules.map((r) =>
        h(
          'tr',
          { 'data-rule': r.ruleId, ...(r.suggested !== r.points ? { class: 'changed' } : {}) },
          h('th', { scope: 'row' }, r.label),
          h('td', { class: 'num' }, formatPoints(r.points)),
          h('td', { class: 'num', 'data-col': 'suggested' }, formatPoints(r.suggested)),
          h(
            'td',
            null,
            r.kept
              ? h('span', { class: 'muted' }, `Kept: ${r.kept}.`)
              : [`lift ${r.lift === null ? '–' : `×${Math.round(r.lift * 100) / 100}`}, won when fired `, proportion(r.wonWhenFired)],
          ),
        ),
      ),
    ),
    h('p', { class: 'hint' }, 'Nothing changes until you save: the editor shows who would move band before you do.'),
    h('div', { class: 'actions' }, preview),
  ];
}

export function createQualityView(opts: QualityViewOptions): QualityView {
  const title = h('h1', { id: 'quality-title', tabindex: -1 }, 'Model quality');
  const status = h('p', { class: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });
  const report = h('div', { id: 'quality-report' });
  const suggestion = h('section', { class: 'panel', id: 'quality-suggestion-panel', 'aria-labelledby': 'quality-suggestion-title' });
  const preview = h('button', { type: 'button', id: 'quality-preview' }, 'Preview in the model editor');
  setChildren(opts.root, h('div', { class: 'view-head' }, title, status), report, suggestion);
  let current: Suggestion | null = null;
  let loading: AbortController | null = null;

  preview.addEventListener('click', () => {
    if (current?.enough) opts.onPreview(current.model);
  });

  async function load(api: Api, focus: boolean) {
    loading?.abort();
    const mine = new AbortController();
    loading = mine;
    opts.root.setAttribute('aria-busy', 'true');
    setText(status, 'Loading…');
    if (focus) focusQuietly(title);
    try {
      const [q, s] = await Promise.all([api.quality(mine.signal), api.suggestion(mine.signal)]);
      if (mine.signal.aborted) return;
      current = s;
      setChildren(report, renderReport(q));
      setChildren(suggestion, h('h2', { id: 'quality-suggestion-title' }, 'Suggested weights'), renderSuggestion(s, preview));
      setText(status, '');
    } catch (err) {
      if (isAbort(err)) return;
      if (isUnauthorized(err)) return opts.onUnauthorized(err);
      setText(status, `Could not load the model quality: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      if (loading === mine) {
        loading = null;
        opts.root.removeAttribute('aria-busy');
      }
    }
  }

  return {
    show: (api, focus) => void load(api, focus),
    stop() {
      loading?.abort();
      opts.root.removeAttribute('aria-busy');
    },
    clear() {
      loading?.abort();
      current = null;
      setChildren(report);
      setChildren(suggestion);
      setText(status, '');
    },
  };
}
