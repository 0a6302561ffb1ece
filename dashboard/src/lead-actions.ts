/**
 * @module What sales do on a lead page: move its stage, send it back to nurturing, and say whether
 * it fits and how it ended (won, lost, bad fit, not reached: the model-quality view learns from
 * these). Each action is one `PATCH /v1/leads/{id}`; the page is reloaded from
 * the answer, so what is shown is what was stored.
 */
import type { ApiError, Feedback, LeadDetail, Outcome, SalesUpdate } from './api';
import { h, setChildren } from './dom';
import { stageLabel, timeEl } from './format';

export interface SalesActionsOptions {
  lead: LeadDetail;
  /** Sends the update and shows the lead again, this panel saying `done`; rejects when not saved. */
  update(body: SalesUpdate, done: string): Promise<void>;
  /** What the last action did, shown in the panel of the lead shown again. */
  message?: string;
}

const FORWARD: readonly NonNullable<SalesUpdate['stage']>[] = ['sql', 'opportunity', 'customer'];
const ORDER = ['prospect', 'lead', 'mql', ...FORWARD];
/** The stages sales may move a lead at `stage` to: later ones only (the server refuses the others). */
const laterThan = (stage: string) => FORWARD.filter((s) => ORDER.indexOf(s) > ORDER.indexOf(stage));

const OUTCOMES: readonly [Outcome, string][] = [
  ['won', 'Won'],
  ['lost', 'Lost'],
  ['bad_fit', 'Bad fit'],
  ['not_reached', 'Not reached'],
];
const outcomeLabel = (o: string) => OUTCOMES.find(([value]) => value === o)?.[1] ?? o;

function feedbackItem(f: Feedback): HTMLLIElement {
  const parts = [f.fit ? (f.fit === 'good' ? 'Good fit' : 'Bad fit') : null, f.outcome ? outcomeLabel(f.outcome) : null].filter(Boolean);
  return h('li', null, timeEl(f.at), ' · ', parts.join(', ') || 'Note', f.note ? h('p', { class: 'feedback-note' }, f.note) : null);
}

/** A labelled radio group; `none` first so that nothing is sent unless chosen. */
function radios(name: string, legend: string, options: readonly [string, string][]): HTMLFieldSetElement {
  return h(
    'fieldset',
    { class: 'radios' },
    h('legend', null, legend),
    [['', 'Not said'] as const, ...options].map(([value, label], i) =>
      h('label', null, h('input', { type: 'radio', name, 'data-value': value, ...(i === 0 ? { checked: true } : {}) }), ' ', label),
    ),
  );
}

const chosen = (form: HTMLElement, name: string): string =>
  Array.from(form.querySelectorAll<HTMLInputElement>('input[type=radio]')).find((r) => r.name === name && r.checked)?.getAttribute('data-value') ?? '';

export function salesActions({ lead, update, message }: SalesActionsOptions): HTMLElement {
  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite', tabindex: -1 }, message);
  const busy = (on: boolean, buttons: HTMLButtonElement[]) => buttons.forEach((b) => (b.disabled = on));
  const run = async (body: SalesUpdate, buttons: HTMLButtonElement[], done: string) => {
    busy(true, buttons);
    setChildren(status, 'Saving…');
    try {
      await update(body, done);
    } catch (err) {
      const e = err as ApiError;
      const issues = Array.isArray(e.issues) && e.issues.length ? ` (${e.issues.map((i) => i.message).join('; ')})` : '';
      setChildren(status, h('span', { class: 'alert', role: 'alert' }, `Not saved: ${e.message ?? String(err)}${issues}`));
    } finally {
      busy(false, buttons);
    }
  };

  const stage = h(
    'select',
    { id: 'sales-stage', name: 'stage' },
    laterThan(lead.stage).map((s) => h('option', { value: s }, stageLabel(s))),
  );
  const move = h('button', { type: 'submit' }, 'Move');
  const recycle = h('button', { type: 'button', class: 'secondary' }, 'Recycle to nurturing');
  const stageForm = h(
    'form',
    { class: 'sales-stage', 'aria-labelledby': 'sales-stage-label' },
    h('label', { id: 'sales-stage-label', for: 'sales-stage' }, `Stage (now ${stageLabel(lead.stage)})`),
    // A customer has no later stage: recycling is all that is left to do. A prospect has not
    // reached the nurturing stage recycling sends a lead back to: the API refuses it.
    h('div', { class: 'row' }, laterThan(lead.stage).length ? [stage, move] : null, lead.stage !== 'prospect' ? recycle : null),
  );
  stageForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void run({ stage: stage.value as SalesUpdate['stage'] }, [move, recycle], `Moved to ${stageLabel(stage.value)}.`);
  });
  recycle.addEventListener('click', () => void run({ stage: 'recycled' }, [move, recycle], 'Sent back to nurturing.'));

  const note = h('textarea', { id: 'sales-note', name: 'note', rows: 3 });
  const save = h('button', { type: 'submit' }, 'Save feedback');
  const feedbackForm = h(
    'form',
    { class: 'sales-feedback' },
    radios('fit', 'Fit', [
      ['good', 'Good fit'],
      ['bad', 'Bad fit'],
    ]),
    radios('outcome', 'Outcome', OUTCOMES),
    h('label', { for: 'sales-note' }, 'Note'),
    note,
    h('div', { class: 'row' }, save),
  );
  feedbackForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const fit = chosen(feedbackForm, 'fit');
    const outcome = chosen(feedbackForm, 'outcome');
    const text = note.value.trim();
    if (!fit && !outcome && !text) {
      setChildren(status, h('span', { class: 'alert', role: 'alert' }, 'Choose a fit or an outcome, or write a note.'));
      return;
    }
    const feedback: NonNullable<SalesUpdate['feedback']> = {};
    if (fit) feedback.fit = fit as 'good' | 'bad';
    if (outcome) feedback.outcome = outcome as Outcome;
    if (text) feedback.note = text;
    void run({ feedback }, [save], 'Feedback saved.');
  });

  return h(
    'div',
    { class: 'sales' },
    stageForm,
    feedbackForm,
    status,
    lead.feedback.length ? h('ol', { class: 'feedback-list', 'aria-label': 'Feedback given' }, [...lead.feedback].reverse().map(feedbackItem)) : null,
  );
}
